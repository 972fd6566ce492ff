/**
 * Rebalance on join and graceful handover, with real worker processes on a real (1-member) etcd
 * and a counting target: every (endpoint, slot) in the observed window is checked exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { killAllSpawned } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';
import {
  type BalanceWorker,
  endpointsFolder,
  type Folder,
  metric,
  owned,
  slotReport,
  startWorker,
} from './support.js';

let etcd: EtcdCluster;
let target: Target;
let folder: Folder;
const w: { a?: BalanceWorker; b?: BalanceWorker } = {};
/** start of the exactly-once window: every job running on the first worker */
let from = 0;

beforeAll(async () => {
  [etcd, target] = await Promise.all([startEtcdCluster({ members: 1 }), startTarget()]);
  folder = endpointsFolder(target, 40, { prefix: 'j' });
});
afterAll(async () => {
  await killAllSpawned();
  await Promise.all([etcd?.close(), target?.close()]);
});

/** Every path has a hit for a slot at or after `t`. */
const allCheckedFrom = (t: number) => () => {
  const latest = new Map<string, number>();
  for (const h of target.hitLog)
    if (h.slot !== null) latest.set(h.path, Math.max(latest.get(h.path) ?? 0, h.slot));
  return folder.paths.every((p) => (latest.get(p) ?? 0) >= t);
};

describe('rebalance on join, graceful stop (worker processes)', () => {
  it('a second worker joins: it owns ≥ 30% within 20 s, no slot missed or doubled, then nothing moves', async () => {
    w.a = await startWorker({ id: 'a', etcd: etcd.clientUrls, folder, cluster: 'join' });
    await waitFor(async () => (await owned(w.a!)) === 40, { timeoutMs: 15_000, message: 'a owns all 40' });
    const t = Date.now();
    await waitFor(allCheckedFrom(t), { timeoutMs: 5000, message: 'every job checked by a' });
    from = t + 1000;

    const joinedAt = Date.now();
    w.b = await startWorker({ id: 'b', etcd: etcd.clientUrls, folder, cluster: 'join' });
    await waitFor(async () => (await owned(w.b!)) >= 12, { timeoutMs: 20_000, message: 'b owns ≥ 30%' });
    const tookMs = Date.now() - joinedAt;
    // an even share: 20 jobsets of 2 jobs at 1/s each, spread within the 10% band
    await waitFor(
      async () => {
        const [x, y] = await Promise.all([owned(w.a!), owned(w.b!)]);
        return x + y === 40 && Math.abs(x - y) <= 4;
      },
      { timeoutMs: 15_000, message: 'even share' },
    );
    const ownedWhenEven = await metric(w.a, 'watcher_jobs_owned');
    // the window covers the whole join and at least 6 s (≥ 5 slots per job)
    const until = Math.max(Date.now(), from + 6000);
    await waitFor(allCheckedFrom(until + 1000), { timeoutMs: 12_000, message: 'checks after the share' });
    const r = slotReport(target, folder.paths, from, until);
    expect(r.slots).toBeGreaterThanOrEqual(40 * 5);
    expect(r.missed).toEqual([]);
    expect(r.duplicated).toEqual([]);
    expect(tookMs).toBeLessThan(20_000);
    // equal loads: no further move over the next rebalance rounds (several housekeeping rounds)
    const handovers = () => w.a!.logs().filter((l) => l.msg === 'handed jobset over (rebalance)').length;
    const before = handovers();
    await waitFor(allCheckedFrom(Date.now() + 4000), {
      timeoutMs: 8000,
      message: 'four more seconds of checks',
    });
    expect(handovers()).toBe(before);
    expect(await metric(w.a, 'watcher_jobs_owned')).toBe(ownedWhenEven);
    console.log(`[balance] join: b owned ≥30% after ${tookMs} ms; ${r.slots} slots exactly once`);
  }, 90_000);

  it('the first worker stops with SIGTERM: exit 0 in bounded time, the second owns all, no slot missed', async () => {
    const a = w.a!;
    const b = w.b!;
    const t0 = Date.now();
    const exit = await a.stop(10_000);
    const exitMs = Date.now() - t0;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitMs).toBeLessThan(6000);
    await waitFor(async () => (await owned(b)) === 40, { timeoutMs: 10_000, message: 'b owns all 40' });
    const ownAllMs = Date.now() - t0;
    const until = Date.now() + 2000;
    await waitFor(allCheckedFrom(until + 1000), { timeoutMs: 8000, message: 'checks after the stop' });
    const r = slotReport(target, folder.paths, from, until);
    expect(r.missed).toEqual([]);
    expect(r.duplicated).toEqual([]);
    expect(await metric(b, 'watcher_jobs_waiting')).toBe(0);
    console.log(
      `[balance] SIGTERM: exit in ${exitMs} ms, b owned all after ${ownAllMs} ms; ${r.slots} slots exactly once`,
    );
  }, 60_000);
});
