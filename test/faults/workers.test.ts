/**
 * Worker faults with real processes (issue 4 point 12): 3 `watcher run --etcd` workers share 36
 * endpoints checked every second against a local target that records every check with its slot.
 * Steady state, kill -9, SIGSTOP past the lease then SIGCONT, rolling restart. One etcd member is
 * enough here (the faults are the workers'); etcd faults are in etcd.test.ts.
 *
 * Bounds (docs/CLUSTER.md "Guarantees"): after each fault every endpoint is checked again within
 * TTL + 1 s; a crash misses at most the slots until takeover (≤ TTL + 1 per endpoint) and never
 * duplicates; a graceful stop misses and duplicates nothing; 3 s after recovery, 5 s of slots are
 * each checked exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultCluster, startFaultCluster } from '../support/cluster-fixture.js';
import { describeMeasurement, measureAfterFault, waitCheckedAfter } from '../support/fault-checks.js';

const TTL = 2;
const TTL_MS = TTL * 1000;
const IDS = ['w1', 'w2', 'w3'];

let c: FaultCluster;

beforeAll(async () => {
  c = await startFaultCluster({ etcdMembers: 1, workers: IDS.map((id) => ({ id })), leaseTtl: TTL });
}, 90_000);

afterAll(async () => {
  await c?.close();
});

describe('worker faults (real processes)', () => {
  it('steady state: every slot of every endpoint is checked exactly once', async () => {
    const m = await measureAfterFault(c, Date.now(), Date.now());
    console.info(describeMeasurement('steady state', m));
    expect(m.settled.missed + m.settled.duplicated, await m.explain()).toBe(0);
    expect(m.settled.offGrid).toBe(0);
  }, 30_000);

  it('kill -9: checked again within TTL + 1 s, no duplicate, missed slots bounded, then exactly once', async () => {
    const victim = 'w1';
    await c.waitQuiet(20_000, IDS);
    const owned = await c.pathsOwnedBy(victim);
    expect(owned.length).toBeGreaterThan(0);
    const faultAt = Date.now();
    c.worker(victim).proc.kill('SIGKILL');
    await c.worker(victim).proc.exited;
    await c.waitOwnershipSettled(TTL_MS + 8000, ['w2', 'w3']);
    const firstAfter = await waitCheckedAfter(c, faultAt, TTL_MS + 5000);
    await c.startWorker(victim);
    const m = await measureAfterFault(c, faultAt, Date.now());
    const why = await m.explain();
    console.info(describeMeasurement('kill -9', m, { firstCheckAfterMs: firstAfter }));
    expect(firstAfter, why).toBeLessThanOrEqual(TTL_MS + 1000);
    expect(m.maxGapMs, why).toBeLessThanOrEqual(TTL_MS + 1000);
    expect(m.fault.duplicated, why).toBe(0);
    expect(m.fault.maxMissedPerEndpoint, why).toBeLessThanOrEqual(TTL + 1);
    expect(m.settled.missed + m.settled.duplicated, why).toBe(0);
  }, 60_000);

  it('SIGSTOP past the lease, then SIGCONT: taken over within TTL + 1 s, nothing twice after resume', async () => {
    const victim = 'w2';
    await c.waitQuiet(20_000, IDS);
    const owned = await c.pathsOwnedBy(victim);
    expect(owned.length).toBeGreaterThan(0);
    const faultAt = Date.now();
    c.worker(victim).proc.pause();
    // past its lease: the others own everything (its registration is gone with the lease)
    await c.waitOwnershipSettled(TTL_MS + 8000, ['w1', 'w3']);
    const firstAfter = await waitCheckedAfter(c, faultAt, TTL_MS + 5000);
    const resumedAt = Date.now();
    c.worker(victim).proc.resume();
    await c.waitOwnershipSettled(20_000, IDS);
    const m = await measureAfterFault(c, faultAt, resumedAt);
    const why = await m.explain();
    console.info(describeMeasurement('SIGSTOP', m, { firstCheckAfterMs: firstAfter }));
    expect(firstAfter, why).toBeLessThanOrEqual(TTL_MS + 1000);
    expect(m.maxGapMs, why).toBeLessThanOrEqual(TTL_MS + 1000);
    expect(m.fault.duplicated, why).toBe(0);
    expect(m.fault.maxMissedPerEndpoint, why).toBeLessThanOrEqual(TTL + 1);
    expect(m.settled.missed + m.settled.duplicated, why).toBe(0);
  }, 60_000);

  it('rolling restart (SIGTERM, start, rejoin, one at a time): no slot missed or checked twice', async () => {
    await c.waitQuiet(20_000, IDS);
    const faultAt = Date.now();
    for (const id of IDS) {
      const info = await c.worker(id).proc.stop(10_000);
      expect(info.code, `${id} exit`).toBe(0);
      await c.startWorker(id);
      await c.waitOwnershipSettled(15_000, IDS);
    }
    const m = await measureAfterFault(c, faultAt, Date.now());
    const why = await m.explain();
    console.info(describeMeasurement('rolling restart', m));
    expect(m.fault.missed, why).toBe(0);
    expect(m.fault.duplicated, why).toBe(0);
    expect(m.maxGapMs, why).toBeLessThanOrEqual(2000);
    expect(m.settled.missed + m.settled.duplicated, why).toBe(0);
  }, 90_000);
});
