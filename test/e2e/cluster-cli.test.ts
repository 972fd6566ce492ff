/**
 * `watcher apply` and `watcher status` as an operator runs them, against a real etcd and a real
 * worker process: apply pushes a folder into the desired state, the worker claims the jobsets,
 * status shows worker, admin, jobsets and owners (table and --json); bad input gives exit codes.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../src/cluster/coordinator.js';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { killAllSpawned, spawnWorker, WATCHER_MAIN, type WorkerProcess } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);

async function watcher(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [WATCHER_MAIN, ...args], { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('watcher apply / status', () => {
  let etcd: EtcdCluster;
  let target: Target;
  let dir: string;
  let worker: WorkerProcess;
  let own: string;
  const etcdFlag = () => ['--etcd', etcd.clientUrls.join(','), '--cluster', 'cli'];

  beforeAll(async () => {
    etcd = await startEtcdCluster({ members: 1 });
    target = await startTarget();
    dir = mkdtempSync(join(tmpdir(), 'watcher-cli-'));
    const host = target.url.replace('http://', '');
    const lines: string[] = [];
    for (let i = 0; i < 6; i++) lines.push(`${host}/count/cli-${i}:`, '  scheme: http', '  interval: 1s');
    writeFileSync(join(dir, 'jobs.yml'), `${lines.join('\n')}\n`);
    // the worker has an empty folder of its own: the desired state comes from `watcher apply`
    own = mkdtempSync(join(tmpdir(), 'watcher-cli-own-'));
    worker = await spawnWorker({
      id: 'cli-w1',
      etcd: etcd.clientUrls,
      endpointsDir: own,
      leaseTtl: 2,
      extraArgs: ['--cluster', 'cli', '--threads', '1', '--config-source', 'etcd'],
    });
    await worker.waitReady(20_000, '/readyz');
  });

  afterAll(async () => {
    await killAllSpawned();
    await target?.close();
    await etcd?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (own) rmSync(own, { recursive: true, force: true });
  });

  it('apply pushes the folder and the worker checks it', async () => {
    const r = await watcher(['apply', dir, ...etcdFlag()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/applied 6 endpoints: 6 added/);
    await waitFor(() => [0, 1, 2, 3, 4, 5].every((i) => target.hits(`/count/cli-${i}`) > 0), {
      timeoutMs: 10_000,
      message: 'every applied endpoint checked by the worker',
    });
  });

  it('status shows the worker, the admin and every jobset with its owner', async () => {
    const json = await waitFor(
      async () => {
        const r = await watcher(['status', '--json', ...etcdFlag()]);
        const s = JSON.parse(r.stdout) as ClusterStatus;
        return s.jobsets.length > 0 && s.jobsets.every((j) => j.owner === 'cli-w1') ? s : null;
      },
      { timeoutMs: 10_000, message: 'status --json shows every jobset owned by cli-w1' },
    );
    expect(json.workers.map((w) => w.id)).toEqual(['cli-w1']);
    expect(json.admin).toBe('cli-w1');
    expect(json.jobsets.reduce((n, j) => n + j.jobs, 0)).toBe(6);
    expect(json.waiting).toBe(0);
    const table = await watcher(['status', ...etcdFlag()]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/cluster cli: 1 workers, admin cli-w1, \d+ jobsets, 6 jobs, 0 waiting/);
    expect(table.stdout).toMatch(/cli-w1 \(admin\)/);
  });

  it('refuses a folder with problems and bad usage', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'watcher-cli-bad-'));
    writeFileSync(join(bad, 'x.yml'), 'a.example/health:\n  intervall: 1s\n');
    const r = await watcher(['apply', bad, ...etcdFlag()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/x\.yml:2:3: .*nothing applied/s);
    expect((await watcher(['status'])).code).toBe(2);
    expect((await watcher(['apply', ...etcdFlag()])).code).toBe(2);
    rmSync(bad, { recursive: true, force: true });
  });

  it('a second worker with a live id refuses to start with a clear message', async () => {
    const own = mkdtempSync(join(tmpdir(), 'watcher-cli-dup-'));
    const dup = await spawnWorker({
      id: 'cli-w1',
      etcd: etcd.clientUrls,
      endpointsDir: own,
      leaseTtl: 2,
      extraArgs: ['--cluster', 'cli', '--threads', '1'],
    });
    const exit = await dup.exited;
    expect(exit.code).toBe(1);
    expect(dup.tail()).toMatch(/CLUSTER_ID_IN_USE/);
    rmSync(own, { recursive: true, force: true });
  });
});
