/**
 * docs/OPERATIONS.md's quick start, run as written (issue 17): the commands of its block in
 * order, with only what makes a test safe substituted: free ports for 9464-9466 and the etcd
 * members (ETCD_BASE_PORT / WORKER_BASE_PORT, and the same port in a temp copy of endpoints.d),
 * a temp state folder for .tmp/cluster. `npm run build` is skipped (the suite runs on a build).
 * Passes when three workers run and every example endpoint is UP on the worker that owns it.
 */
import { exec } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePortBase, REPO_ROOT } from '../support/processes.js';
import { waitFor } from '../support/wait.js';

const run = promisify(exec);
const DOC = readFileSync(join(REPO_ROOT, 'docs/OPERATIONS.md'), 'utf8');

/** The lines of the first ```sh block after "## Quick start". */
function quickStart(): string[] {
  const section = DOC.slice(DOC.indexOf('## Quick start'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('docs/OPERATIONS.md: no ```sh block under "## Quick start"');
  return block
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

let state: string;
let env: Record<string, string>;
let workerBase: number;
let endpointsCopy: string;

function substitute(line: string): string {
  return line
    .replace(/\s+#\s.*$/, '')
    .replace(/\b946([4-6])\b/g, (_m, d: string) => String(workerBase + Number(d) - 4))
    .replace(/--endpoints-dir endpoints\.d\b/, `--endpoints-dir ${endpointsCopy}`)
    .replace(/\.tmp\/cluster\b/g, state);
}

async function sh(line: string): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(line, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      shell: '/bin/bash',
      timeout: 60_000,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`\`${line}\` failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

interface Status {
  endpoints: { name: string; state: string }[];
}

async function statusOf(port: number): Promise<Status | null> {
  try {
    // each worker's own endpoints: the cluster view would ask every peer again for each of them
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/status?scope=local`, {
      signal: AbortSignal.timeout(5000),
    });
    return r.ok ? ((await r.json()) as Status) : null;
  } catch {
    return null;
  }
}

beforeAll(async () => {
  state = await mkdtemp(join(tmpdir(), 'watcher-quick-start-'));
  workerBase = await freePortBase([0, 1, 2]);
  env = {
    WATCHER_CLUSTER_DIR: state,
    ETCD_BASE_PORT: String(await freePortBase([1, 2, 3, 11, 12, 13])),
    WORKER_BASE_PORT: String(workerBase),
  };
  endpointsCopy = join(state, 'endpoints.d');
  cpSync(join(REPO_ROOT, 'endpoints.d'), endpointsCopy, { recursive: true });
  for (const f of readdirSync(endpointsCopy).filter((x) => /\.ya?ml$/.test(x))) {
    const p = join(endpointsCopy, f);
    writeFileSync(p, readFileSync(p, 'utf8').replaceAll('127.0.0.1:9464', `127.0.0.1:${workerBase}`));
  }
});

afterAll(async () => {
  if (env) await sh('cluster/down.sh --wipe').catch(() => undefined);
  if (state) await rm(state, { recursive: true, force: true });
});

describe('docs/OPERATIONS.md quick start', () => {
  it('runs as written: 3 etcd members, 3 workers, every example endpoint UP, then down', async () => {
    const lines = quickStart();
    expect(lines[0]).toBe('npm run build');
    // what the substitution relies on: without WORKER_BASE_PORT, w1 listens where local.yml checks
    const libDefault = /WORKER_BASE_PORT="\$\{WORKER_BASE_PORT:-(\d+)\}"/.exec(
      readFileSync(join(REPO_ROOT, 'cluster/lib.sh'), 'utf8'),
    )?.[1];
    expect(libDefault).toBe('9464');
    expect(readFileSync(join(REPO_ROOT, 'endpoints.d/local.yml'), 'utf8')).toContain(
      '\n127.0.0.1:9464/healthz:',
    );
    const expected = Object.keys(
      parse(readFileSync(join(endpointsCopy, 'local.yml'), 'utf8')) as Record<string, unknown>,
    ).filter((k) => k !== 'defaults' && k !== 'self');
    expect(expected.length).toBeGreaterThanOrEqual(3);
    const ports = [0, 1, 2].map((i) => workerBase + i);
    for (const raw of lines.slice(1)) {
      const line = substitute(raw);
      const out = await sh(line);
      if (raw.startsWith('cluster/workers-up.sh')) {
        // every example endpoint UP on its owner, all three workers running
        let seen = 'nothing yet';
        await waitFor(
          async () => {
            const all = await Promise.all(ports.map(statusOf));
            const states = new Map(
              all.flatMap((s) => s?.endpoints.map((e) => [e.name, e.state] as const) ?? []),
            );
            seen = `no status from ${ports.filter((_, i) => all[i] === null).join(', ') || 'none'}; ${expected
              .map((n) => `${n}: ${states.get(n) ?? 'not owned'}`)
              .join(', ')}`;
            return all.every((s) => s !== null) && expected.every((name) => states.get(name) === 'UP');
          },
          { timeoutMs: 75_000, intervalMs: 1000, message: 'every example endpoint UP on the cluster' },
        ).catch((err: Error) => {
          throw new Error(`${err.message}; last seen: ${seen}`);
        });
      } else if (raw.startsWith('curl -s')) {
        const shown = out.stdout.trim().split('\n').sort();
        expect(shown.map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(
          expected.map((n) => `UP ${n}`).sort(),
        );
        for (const l of shown) expect(l).toMatch(/ w[123]$/);
      } else if (raw.includes('main.js status')) {
        for (const w of ['w1', 'w2', 'w3']) expect(out.stdout).toContain(w);
      } else if (raw.startsWith('cluster/fault.sh status')) {
        expect(out.stdout + out.stderr).toMatch(/w3/);
      }
    }
    // down.sh stopped everything: nothing answers on the worker ports
    for (const p of ports) expect(await statusOf(p)).toBeNull();
  }, 180_000);
});
