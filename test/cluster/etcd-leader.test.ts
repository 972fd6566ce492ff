/**
 * A 3-member etcd: killing the leader must not move work (TTL 5 s), and workers keep going on the
 * remaining members.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { waitFor } from '../support/wait.js';
import { exactlyOnce, Ledger, makeWorker, names, snapshot, type TestWorker } from './etcd-helpers.js';

let etcd: EtcdCluster;
const started: TestWorker[] = [];

beforeAll(async () => {
  etcd = await startEtcdCluster({ members: 3 });
});
afterAll(async () => {
  await etcd?.close();
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.coord.stop()));
});

describe('etcd leader loss', () => {
  it('killing the etcd leader moves nothing and the workers stay ready', async () => {
    const desired = snapshot(names(12));
    const expected = [...desired.raw.keys()];
    const ledger = new Ledger();
    const ws = ['k1', 'k2', 'k3'].map((id) => {
      const w = makeWorker(etcd.clientUrls, id, {
        cluster: 'leader',
        desired: () => desired,
        leaseTtlSec: 5,
        onChange: ledger.onChange,
        onPartition: 'pause',
      });
      started.push(w);
      return w;
    });
    await Promise.all(ws.map((w) => w.coord.start()));
    await waitFor(() => exactlyOnce(ws, expected), { timeoutMs: 10_000, message: 'spread' });
    // let the admin's rebalance settle before measuring
    await waitFor(() => ws.every((w) => w.jobs().size === 4), { timeoutMs: 10_000, message: 'even' });
    const lengths = ws.map((w) => w.history.length);
    const leader = await etcd.leader();
    await etcd.killMember(leader.name);
    // a new leader is elected and every worker renews its lease through a surviving member
    const t0 = Date.now();
    await waitFor(
      async () => {
        const before = ws.map((w) => (w.coord as unknown as { lastNetOkAt: number }).lastNetOkAt);
        return before.every((t) => t > t0 + 1000);
      },
      { timeoutMs: 10_000, message: 'keepalives succeed after the election' },
    );
    expect(ws.every((w) => w.coord.ready())).toBe(true);
    expect(ws.map((w) => w.history.length)).toEqual(lengths);
    expect(ledger.overlaps).toEqual([]);
    await etcd.startMember(leader.name);
  });

  it('a frozen etcd leader (SIGSTOP: calls hang instead of failing) moves nothing either', async () => {
    const desired = snapshot(names(6));
    const expected = [...desired.raw.keys()];
    const ws = ['z1', 'z2'].map((id) => {
      const w = makeWorker(etcd.clientUrls, id, {
        cluster: 'frozen',
        desired: () => desired,
        leaseTtlSec: 5,
        onPartition: 'pause',
      });
      started.push(w);
      return w;
    });
    await Promise.all(ws.map((w) => w.coord.start()));
    await waitFor(() => exactlyOnce(ws, expected) && ws.every((w) => w.jobs().size === 3), {
      timeoutMs: 10_000,
      message: 'even',
    });
    const lengths = ws.map((w) => w.history.length);
    const leader = await etcd.leader();
    etcd.pauseMember(leader.name);
    const t0 = Date.now();
    try {
      await waitFor(
        () => ws.every((w) => (w.coord as unknown as { lastNetOkAt: number }).lastNetOkAt > t0 + 5000),
        {
          timeoutMs: 15_000,
          message: 'keepalives keep succeeding for 5 s past the freeze',
        },
      );
    } finally {
      etcd.resumeMember(leader.name);
    }
    expect(ws.map((w) => w.history.length)).toEqual(lengths);
    expect(ws.every((w) => w.coord.ready())).toBe(true);
  });
});
