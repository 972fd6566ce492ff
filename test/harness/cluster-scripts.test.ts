/**
 * The person-facing cluster/ scripts, run for real in a temp state dir on free ports: etcd-up (3
 * members), fault.sh leader/kill-leader/etcd-start/status, etcd-down + etcd-up keeping data, and
 * workers-up / fault.sh cut|heal|pause|resume|kill|start / down.sh with a stand-in worker command
 * (the real `watcher run --etcd` is built elsewhere) that polls etcd through its proxy.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePortBase, freePorts, REPO_ROOT } from '../support/processes.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);

let state: string;
let env: Record<string, string>;
const clients: Etcd3[] = [];

async function sh(script: string, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(join(REPO_ROOT, 'cluster', script), args, {
      env: { ...process.env, ...env },
      timeout: 45_000,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${script} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

/** A base B such that B+1..B+3 (clients) and B+11..B+13 (peers) are free now. */
const freeEtcdBase = () => freePortBase([1, 2, 3, 11, 12, 13]);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z';
  } catch {
    return false;
  }
}

const pidOf = (file: string): number => Number(readFileSync(join(state, 'run', file), 'utf8').trim());

beforeAll(async () => {
  state = await mkdtemp(join(tmpdir(), 'watcher-cluster-test-'));
  const [workerBase] = await freePorts(1);
  env = {
    WATCHER_CLUSTER_DIR: state,
    ETCD_BASE_PORT: String(await freeEtcdBase()),
    WORKER_BASE_PORT: String(workerBase),
    WATCHER_CMD: `${process.execPath} ${join(state, 'fake-worker.mjs')}`,
  };
  await writeFile(join(state, 'fake-worker.mjs'), FAKE_WORKER);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await sh('down.sh', '--wipe').catch(() => undefined);
  await rm(state, { recursive: true, force: true });
});

/** Stand-in worker: logs every 200 ms whether GET <first --etcd URL>/health answers. */
const FAKE_WORKER = `
import http from 'node:http';
const a = process.argv.slice(2);
const flag = (f) => a[a.indexOf(f) + 1];
const url = flag('--etcd').split(',')[0];
const log = (o) => process.stdout.write(JSON.stringify({ time: Date.now(), id: flag('--id'), ...o }) + '\\n');
log({ msg: 'started', argv: a });
setInterval(() => {
  const req = http.get(url + '/health', { timeout: 150, agent: false }, (res) => { res.resume(); log({ msg: 'etcd', ok: res.statusCode === 200 }); });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => log({ msg: 'etcd', ok: false, err: e.message }));
}, 200);
process.on('SIGTERM', () => process.exit(0));
`;

describe('cluster/ scripts', () => {
  let endpoints: string[];

  it('etcd-up.sh starts a healthy 3-member cluster and prints its URLs', async () => {
    const { stdout } = await sh('etcd-up.sh', '3');
    endpoints = stdout.trim().split(',');
    const base = Number(env.ETCD_BASE_PORT);
    expect(endpoints).toEqual([1, 2, 3].map((i) => `http://127.0.0.1:${base + i}`));
    const c = new Etcd3({ hosts: endpoints });
    clients.push(c);
    await c.put('scripts/k').value('v');
    expect(await c.get('scripts/k').string()).toBe('v');
    for (const m of ['m1', 'm2', 'm3']) expect(alive(pidOf(`etcd-${m}.pid`))).toBe(true);
  });

  it('fault.sh kill-leader kills the leader; another is elected; etcd-start brings it back', async () => {
    const before = (await sh('fault.sh', 'leader')).stdout.trim();
    expect(before).toMatch(/^m[123]$/);
    const pid = pidOf(`etcd-${before}.pid`);
    const killed = (await sh('fault.sh', 'kill-leader')).stdout.trim();
    expect(killed).toBe(before);
    expect(alive(pid)).toBe(false);
    const after = await waitFor(
      async () => {
        const l = (await sh('fault.sh', 'leader').catch(() => ({ stdout: '' }))).stdout.trim();
        return l && l !== before ? l : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 300, message: 'new etcd leader after kill-leader' },
    );
    expect(after).not.toBe(before);
    const status = (await sh('fault.sh', 'status')).stdout;
    expect(status).toMatch(new RegExp(`${before}\\s+\\S+\\s+stopped`));
    expect(status).toMatch(new RegExp(`${after}\\s+.*healthy\\s+LEADER`));

    await sh('fault.sh', 'etcd-start', before);
    expect(alive(pidOf(`etcd-${before}.pid`))).toBe(true);
  });

  it('etcd-down.sh stops every member by PID and etcd-up.sh brings the data back', async () => {
    const pids = ['m1', 'm2', 'm3'].map((m) => pidOf(`etcd-${m}.pid`));
    await sh('etcd-down.sh');
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(join(state, 'run', 'etcd-m1.pid'))).toBe(false);
    await sh('etcd-up.sh');
    const c = new Etcd3({ hosts: endpoints });
    clients.push(c);
    expect(await c.get('scripts/k').string()).toBe('v');
  });

  it('workers-up.sh starts workers behind per-worker proxies; fault.sh cuts, heals, pauses and kills them', async () => {
    await sh('workers-up.sh', '2', '--endpoints-dir', state, '--lease-ttl', '3');
    const log = (id: string): Array<{ msg: string; ok?: boolean; argv?: string[] }> =>
      readFileSync(join(state, 'logs', `worker-${id}.log`), 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l));
    const argv = await waitFor(() => log('w1').find((r) => r.msg === 'started')?.argv, {
      timeoutMs: 5000,
      message: 'w1 started',
    });
    expect(argv.slice(0, 2)).toEqual(['run', '--etcd']);
    expect(argv).toEqual(expect.arrayContaining(['--id', 'w1', '--lease-ttl', '3', '--listen']));
    const proxied = argv[2]!.split(',');
    expect(proxied).toHaveLength(3);
    expect(proxied.some((u) => endpoints.includes(u))).toBe(false); // through the proxy, not direct

    const okCount = (id: string, ok: boolean): number =>
      log(id).filter((r) => r.msg === 'etcd' && r.ok === ok).length;
    await waitFor(() => okCount('w1', true) > 0, { timeoutMs: 5000, message: 'w1 reaches etcd' });

    await sh('fault.sh', 'cut', 'w1', 'drop');
    const failsAtCut = okCount('w1', false);
    await waitFor(() => okCount('w1', false) >= failsAtCut + 2, { timeoutMs: 5000, message: 'w1 cut off' });
    const w2ok = okCount('w2', true);
    await waitFor(() => okCount('w2', true) >= w2ok + 2, { timeoutMs: 5000, message: 'w2 unaffected' });
    await sh('fault.sh', 'heal', 'w1');
    const okAtHeal = okCount('w1', true);
    await waitFor(() => okCount('w1', true) >= okAtHeal + 2, { timeoutMs: 5000, message: 'w1 healed' });

    await sh('fault.sh', 'pause', 'w2');
    expect((await sh('fault.sh', 'status')).stdout).toMatch(/w2\s+pid \d+ running PAUSED/);
    await sh('fault.sh', 'resume', 'w2');
    expect((await sh('fault.sh', 'status')).stdout).not.toMatch(/PAUSED/);

    const w2 = pidOf('worker-w2.pid');
    await sh('fault.sh', 'kill', 'w2');
    expect(alive(w2)).toBe(false);
    expect((await sh('fault.sh', 'status')).stdout).toMatch(/w2\s+dead/);
    await sh('fault.sh', 'start', 'w2');
    expect(alive(pidOf('worker-w2.pid'))).toBe(true);
  });

  it('down.sh stops workers, proxies and etcd by PID', async () => {
    const runDir = join(state, 'run');
    const pids = ['worker-w1', 'worker-w2', 'proxy-w1', 'proxy-w2', 'etcd-m1', 'etcd-m2', 'etcd-m3'].map(
      (f) => pidOf(`${f}.pid`),
    );
    expect(pids.every(alive)).toBe(true);
    await sh('down.sh');
    expect(pids.filter(alive)).toEqual([]);
    expect((await readFile(join(state, 'logs', 'proxy-w1.log'), 'utf8')).includes('"mode":"drop"')).toBe(
      true,
    );
    expect(existsSync(join(runDir, 'worker-w1.pid'))).toBe(false);
  });
});
