/**
 * Falling behind without falling over, with real worker processes (docs/CLUSTER.md "Falling
 * behind"). Workers are made slow on purpose with the test hooks (a fixed service rate at no CPU
 * cost, so the overload factor does not depend on this machine's speed):
 *
 * - one worker alone at 1.5× its capacity for two minutes: RSS flat (±10%), skipped slots
 *   counted, pending checks bounded by the endpoints, lag bounded; lag_high and "scaling limit
 *   hit" reach a `self` webhook within 90 s; after relief (two thirds of the endpoints removed)
 *   lag p99 < 1 s within 15 s, then lag_ok and "resolved".
 * - the episode lives in etcd: the admin dies during an episode, the new admin sends no second
 *   "hit"; a worker with room joins, takes the excess and the alert resolves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { killAllSpawned, spawnWorker, type WorkerProcess } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';
import { overloadFolder, rssMb, selfHook, slowEnv, targetLagP99 } from './support.js';

let etcd: EtcdCluster;
let target: Target;
let hook: Awaited<ReturnType<typeof selfHook>>;

beforeAll(async () => {
  [etcd, target, hook] = await Promise.all([
    startEtcdCluster({ members: 1 }),
    startTarget({ hitLogLimit: 1_000_000 }),
    selfHook(),
  ]);
});
afterAll(async () => {
  await killAllSpawned();
  await Promise.all([etcd?.close(), target?.close(), hook?.close()]);
});

/** 20 slots × 1000 / 30 ms ≈ 666 checks/s on its one thread */
const SLOW = slowEnv(20, 30);

async function metricValue(w: WorkerProcess, line: RegExp): Promise<number> {
  const m = line.exec((await w.http('/metrics')).body);
  return m ? Number(m[1]) : Number.NaN;
}

async function start(
  id: string,
  dir: string,
  cluster: string,
  env?: Record<string, string>,
  extra: string[] = [],
) {
  const w = await spawnWorker({
    id,
    etcd: etcd.clientUrls,
    endpointsDir: dir,
    leaseTtl: 3,
    logLevel: 'info',
    extraArgs: ['--cluster', cluster, '--threads', '1', ...extra],
    env,
  });
  await w.waitReady(20_000, '/readyz');
  return w;
}

describe('overload (worker processes)', () => {
  it('1.5x overload alone: flat memory, skipped slots counted, the scaling alert, recovery after relief', async () => {
    // 1,000 endpoints every second (4 files of 250) for ~666 checks/s of service
    const folder = overloadFolder(target, 4, 250, hook.url);
    const t0 = Date.now();
    const w = await start('solo', folder.dir, 'ov1', SLOW);
    await waitFor(async () => (await metricValue(w, /^watcher_jobs_owned (\d+)$/m)) === 1000, {
      timeoutMs: 15_000,
      message: 'solo owns the 1,000 endpoints',
    });
    await waitFor(() => hook.events('lag_high').length === 1, {
      timeoutMs: 30_000,
      message: 'lag_high sent',
    });
    await waitFor(() => hook.events('scaling_limit_hit').length === 1, {
      timeoutMs: 90_000 - (Date.now() - t0),
      message: 'scaling limit hit within 90 s',
    });
    expect(hook.events('scaling_limit_hit')[0]?.message).toContain('solo');

    // two minutes of steady overload: RSS within ±10% of its median, every 5 s
    const rss: number[] = [];
    const until = Date.now() + 120_000;
    await waitFor(
      () => {
        rss.push(rssMb(w.pid));
        return Date.now() >= until;
      },
      { timeoutMs: 130_000, intervalMs: 5000, message: 'two minutes of samples' },
    );
    const median = [...rss].sort((a, b) => a - b)[Math.floor(rss.length / 2)]!;
    for (const r of rss)
      expect(Math.abs(r - median) / median, `RSS ${rss.map(Math.round).join(',')} MB`).toBeLessThanOrEqual(
        0.1,
      );

    const overlap = await metricValue(w, /^watcher_checks_skipped_total\{reason="overlap"\} (\d+)$/m);
    expect(overlap).toBeGreaterThan(10_000);
    expect(await metricValue(w, /^watcher_checks_pending (\d+)$/m)).toBeLessThanOrEqual(1000);
    const coverage = await metricValue(w, /^watcher_schedule_coverage_ratio ([\d.]+)$/m);
    expect(coverage).toBeGreaterThan(0.5);
    expect(coverage).toBeLessThan(0.85);
    expect(await metricValue(w, /^watcher_overloaded (\d)$/m)).toBe(1);
    const st = (await w.http('/api/v1/status')).json<{
      worker: { overloaded: boolean; coverage: number; checks_skipped: { overlap: number } };
      cluster: { workers: Array<{ id: string; overloaded?: boolean }> };
      endpoints: Array<{ skipped_slots: number }>;
    }>();
    expect(st.worker.overloaded).toBe(true);
    expect(st.endpoints.some((e) => e.skipped_slots > 0)).toBe(true);
    // the slot that runs is late by about one interval plus the queue, never more
    const now = Date.now();
    expect(targetLagP99(target, now - 30_000, now)).toBeLessThan(2500);
    expect(hook.events('scaling_limit_hit')).toHaveLength(1);

    // relief: two thirds of the endpoints go away (~333 checks/s for ~666 of service)
    folder.remove('part1.yml');
    folder.remove('part2.yml');
    folder.remove('part3.yml');
    const relief = Date.now();
    const kept = new Set(folder.files.get('part0.yml'));
    await waitFor(
      () => {
        const t = Date.now();
        if (t - relief < 3000) return false;
        const p99 = targetLagP99(target, t - 2000, t, kept);
        return p99 !== null && p99 < 1000;
      },
      { timeoutMs: 15_000, intervalMs: 500, message: 'lag p99 < 1 s within 15 s of relief' },
    );
    await waitFor(() => hook.events('lag_ok').length === 1, { timeoutMs: 60_000, message: 'lag_ok sent' });
    await waitFor(() => hook.events('scaling_limit_resolved').length === 1, {
      timeoutMs: 30_000,
      message: 'scaling limit resolved',
    });
    expect(hook.events('scaling_limit_hit')).toHaveLength(1);
    expect(hook.events('lag_high')).toHaveLength(1);
    await w.stop();
  }, 400_000);

  it('an admin change during an episode sends no second hit; a worker with room takes the excess and it resolves', async () => {
    const before = {
      hit: hook.events('scaling_limit_hit').length,
      resolved: hook.events('scaling_limit_resolved').length,
    };
    const folder = overloadFolder(target, 4, 250, hook.url);
    // the admin first, with no room for any jobset (capacity 1 < jobs per jobset)
    const admin = await start('tiny', folder.dir, 'ov2', undefined, ['--capacity', '1']);
    await waitFor(async () => (await metricValue(admin, /^watcher_is_admin (\d)$/m)) === 1, {
      timeoutMs: 10_000,
      message: 'tiny is admin',
    });
    const slow = await start('slow', folder.dir, 'ov2', SLOW);
    await waitFor(async () => (await metricValue(slow, /^watcher_jobs_owned (\d+)$/m)) === 1000, {
      timeoutMs: 15_000,
      message: 'slow owns everything',
    });
    await waitFor(() => hook.events('scaling_limit_hit').length === before.hit + 1, {
      timeoutMs: 90_000,
      message: 'hit raised by tiny',
    });
    expect(hook.events('scaling_limit_hit').at(-1)?.worker).toBe('tiny');

    // the admin dies mid-episode: slow becomes admin, reads the episode from etcd, sends no second hit
    admin.kill('SIGKILL');
    await slow.waitForLog((r) => r.msg === 'scaling episode continues (read from etcd)', 20_000);
    expect(hook.events('scaling_limit_hit')).toHaveLength(before.hit + 1);

    // a worker with room joins: it takes the excess, and the alert resolves (sent by the new admin)
    const roomy = await start('roomy', folder.dir, 'ov2');
    await waitFor(async () => (await metricValue(roomy, /^watcher_jobs_owned (\d+)$/m)) > 0, {
      timeoutMs: 30_000,
      message: 'roomy takes shed work',
    });
    await waitFor(() => hook.events('scaling_limit_resolved').length === before.resolved + 1, {
      timeoutMs: 60_000,
      message: 'resolved',
    });
    expect(hook.events('scaling_limit_resolved').at(-1)?.worker).toBe('slow');
    expect(hook.events('scaling_limit_hit')).toHaveLength(before.hit + 1);
    await Promise.all([slow.stop(), roomy.stop()]);
  }, 300_000);
});
