/**
 * docker/: the Dockerfile, its .dockerignore, the HEALTHCHECK script and the compose file carry
 * what issue 17 lists. No Docker engine runs here: the compose file is resolved with
 * `docker-compose config` when installed (.ci/run installs it), the Dockerfile is linted with
 * dockerfile-utils (npm), and the rest is read as text/YAML.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePorts } from '../support/processes.js';

const ROOT = join(import.meta.dirname, '../..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
const PINNED = /^[\w./-]+:v?\d+\.\d+\.\d+[\w.-]*@sha256:[0-9a-f]{64}$/;

describe('Dockerfile', () => {
  const text = read('docker/Dockerfile');
  const lines = text.split('\n').filter((l) => !l.trim().startsWith('#'));

  it('uses Node 24 LTS pinned by version and digest, and says how to bump it', () => {
    const arg = /^ARG NODE_IMAGE=(\S+)$/m.exec(text)?.[1];
    expect(arg).toMatch(/^node:24\.\d+\.\d+-bookworm-slim@sha256:[0-9a-f]{64}$/);
    expect(arg).toMatch(PINNED);
    const froms = lines.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThan(1);
    for (const f of froms) expect(f).toMatch(/^FROM \$\{NODE_IMAGE\}( AS \w+)?$/);
    expect(text).toMatch(/To bump:.*imagetools inspect/s);
  });

  it('builds once: npm ci without lifecycle scripts, then one `npm run build`', () => {
    const runs = lines.filter((l) => l.startsWith('RUN '));
    expect(runs.filter((l) => l.includes('npm run build'))).toHaveLength(1);
    for (const r of runs.filter((l) => l.includes('npm ci'))) expect(r).toContain('--ignore-scripts');
  });

  it('HEALTHCHECK runs the script that follows WATCHER_LISTEN', () => {
    expect(text).toMatch(/^HEALTHCHECK .*CMD \["node", "\/app\/healthcheck\.mjs"\]$/m);
    expect(text).toMatch(/^COPY docker\/healthcheck\.mjs \.\/healthcheck\.mjs$/m);
    expect(text).not.toMatch(/127\.0\.0\.1:9464/);
  });

  it('lints clean with dockerfile-utils', () => {
    const bin = join(ROOT, 'node_modules/.bin/dockerfile-utils');
    const r = spawnSync(bin, ['lint', 'docker/Dockerfile'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });

  it('.dockerignore keeps node_modules, dist, .git and tests out, and what the build needs in', () => {
    const ignore = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const p of ['**/node_modules', 'dist', '.git', '.tmp', 'test', 'bench']) expect(ignore).toContain(p);
    expect(ignore).toContain('!docker/healthcheck.mjs');
    for (const needed of [
      'src',
      'schema',
      'endpoints.d',
      'package.json',
      'package-lock.json',
      'tsconfig.json',
    ])
      expect(ignore, needed).not.toContain(needed);
    // every COPY source of the Dockerfile is in the context
    for (const l of lines.filter((x) => x.startsWith('COPY ') && !x.includes('--from'))) {
      for (const src of l.split(/\s+/).slice(1, -1)) expect(ignore, src).not.toContain(src);
    }
  });
});

describe('docker/healthcheck.mjs', () => {
  let server: Server;
  let port: number;
  let status = 200;
  beforeAll(async () => {
    [port] = (await freePorts(1)) as [number];
    server = createServer((req, res) => {
      res.writeHead(req.url === '/healthz' ? status : 404).end('{}');
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const probe = (listen: string | undefined) =>
    new Promise<number | null>((resolve) => {
      const env = {
        PATH: process.env.PATH ?? '',
        ...(listen === undefined ? {} : { WATCHER_LISTEN: listen }),
      };
      const child = spawn(process.execPath, [join(ROOT, 'docker/healthcheck.mjs')], { env, stdio: 'ignore' });
      child.on('exit', (code) => resolve(code));
    });

  it('probes the port of WATCHER_LISTEN, a wildcard host on loopback', async () => {
    status = 200;
    expect(await probe(`0.0.0.0:${port}`)).toBe(0);
    expect(await probe(`127.0.0.1:${port}`)).toBe(0);
    status = 503;
    expect(await probe(`0.0.0.0:${port}`)).toBe(1);
    status = 200;
    const [closed] = (await freePorts(1)) as [number];
    expect(await probe(`0.0.0.0:${closed}`)).toBe(1);
    expect(await probe('nonsense')).toBe(1);
  });
});

describe('docker/compose.yaml', () => {
  const doc = parse(read('docker/compose.yaml'), { merge: true }) as {
    services: Record<string, Record<string, unknown>>;
    volumes: Record<string, unknown>;
  };
  const services = Object.entries(doc.services);
  const etcd = services.filter(([n]) => n.startsWith('etcd'));
  const workers = services.filter(([n]) => n.startsWith('worker'));

  it('three etcd members with data volumes, a healthcheck and the compaction/keepalive flags', () => {
    expect(etcd).toHaveLength(3);
    for (const [name, s] of etcd) {
      expect(s.image, name).toMatch(PINNED);
      const env = s.environment as Record<string, string>;
      expect(env.ETCD_AUTO_COMPACTION_MODE).toBe('periodic');
      expect(env.ETCD_AUTO_COMPACTION_RETENTION).toBe('1h');
      expect(env.ETCD_GRPC_KEEPALIVE_MIN_TIME).toBe('2s');
      const vols = s.volumes as string[];
      expect(vols).toEqual([`${name}-data:${env.ETCD_DATA_DIR}`]);
      expect(doc.volumes).toHaveProperty(`${name}-data`);
      expect((s.healthcheck as { test: string[] }).test.join(' ')).toContain('endpoint health');
    }
  });

  it('workers wait for healthy etcd, publish on loopback only, pass the token, Datadog and AWS variables', () => {
    expect(workers).toHaveLength(3);
    for (const [name, s] of workers) {
      const deps = s.depends_on as Record<string, { condition: string }>;
      expect(Object.keys(deps).sort(), name).toEqual(['etcd1', 'etcd2', 'etcd3']);
      for (const d of Object.values(deps)) expect(d.condition).toBe('service_healthy');
      for (const p of s.ports as string[]) expect(p, name).toMatch(/^127\.0\.0\.1:\d+:9464$/);
      const env = s.environment as Record<string, string>;
      for (const v of [
        'WATCHER_HTTP_TOKEN',
        'DD_API_KEY',
        'AWS_REGION',
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
      ])
        expect(env[v], `${name} ${v}`).toBe(`\${${v}:-}`);
      expect(env.WATCHER_ID).toBe(name);
      expect(env.WATCHER_ADVERTISE).toBe(`${name}:9464`); // a wildcard --listen is not reachable
      expect(env.WATCHER_LISTEN).toBe('0.0.0.0:9464');
    }
  });

  const compose = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!compose)('`docker-compose config` accepts it', () => {
    const r = spawnSync('docker-compose', ['-f', 'docker/compose.yaml', 'config', '-q'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
