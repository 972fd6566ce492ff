/**
 * Load spreading with real etcd: rebalance on join by planned moves (handover without a gap or an
 * overlap), no oscillation once even, graceful hand-back on stop.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigSnapshot } from '../../src/config/types.js';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { waitFor } from '../support/wait.js';
import {
  exactlyOnce,
  Ledger,
  makeWorker,
  names,
  snapshot,
  type TestWorker,
  type WorkerOptions,
} from './etcd-helpers.js';

let etcd: EtcdCluster;
const started: TestWorker[] = [];

beforeAll(async () => {
  etcd = await startEtcdCluster({ members: 1 });
});
afterAll(async () => {
  await etcd?.close();
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.coord.stop()));
});

function worker(
  id: string,
  cluster: string,
  desired: () => ConfigSnapshot | null,
  o: WorkerOptions = {},
): TestWorker {
  const w = makeWorker(etcd.clientUrls, id, { cluster, desired, ...o });
  started.push(w);
  return w;
}

describe('rebalance', () => {
  it('a joining worker gets an even share by planned moves: no overlap, catch-up from the handover time', async () => {
    const desired = snapshot(names(40)); // 20 jobsets of 2 jobs
    const expected = [...desired.raw.keys()];
    const ledger = new Ledger();
    const w1 = worker('b1', 'join', () => desired, { onChange: ledger.onChange });
    await w1.coord.start();
    await waitFor(() => w1.jobs().size === 40, { timeoutMs: 5000, message: 'w1 owns everything' });
    const w2 = worker('b2', 'join', () => desired, { onChange: ledger.onChange });
    const t0 = Date.now();
    await w2.coord.start();
    await waitFor(() => w2.jobs().size === 20 && exactlyOnce([w1, w2], expected), {
      timeoutMs: 15_000,
      message: 'even share',
    });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(ledger.overlaps).toEqual([]);
    for (const [name, job] of w2.jobs()) {
      expect(job.takenOver).toBe(true);
      // the taker catches up every slot from the moment the giver stopped
      expect(job.dueSince).toBeLessThanOrEqual(ledger.leftAt.get(name)! + 50);
    }
    // equal loads: nothing moves any more
    const h1 = w1.history.length;
    const h2 = w2.history.length;
    await new Promise((r) => setTimeout(r, 2000)); // observation window, not a synchronisation
    expect([w1.history.length, w2.history.length]).toEqual([h1, h2]);
    expect(w1.coord.status().jobsets.every((j) => j.owner === 'b1' || j.owner === 'b2')).toBe(true);
  });

  it('spreads over three workers by checks/s, not job count', async () => {
    // 10 jobs at 1/s (5 jobsets of 2) and 30 at 1/10 s: rates differ per jobset
    const fast = names(10, 'fast');
    const slow = names(30, 'slow');
    const desired = snapshot([...fast, ...slow], (n) => (n.startsWith('slow') ? { interval: '10s' } : {}));
    desired.endpoints = desired.endpoints.map((e) =>
      e.name.startsWith('slow') ? { ...e, schedule: { kind: 'interval', everyMs: 10_000 } } : e,
    );
    const ws = ['c1', 'c2', 'c3'].map((id) => worker(id, 'rates', () => desired));
    await ws[0]!.coord.start();
    await waitFor(() => ws[0]!.jobs().size === 40, { timeoutMs: 5000, message: 'c1 owns everything' });
    await Promise.all(ws.slice(1).map((w) => w.coord.start()));
    const rate = (w: TestWorker) =>
      [...w.jobs().keys()].reduce((s, n) => s + (n.startsWith('fast') ? 1 : 0.1), 0);
    // total 13 checks/s: even share ~4.33 each
    await waitFor(() => ws.every((w) => rate(w) >= 3 && rate(w) <= 5.7), {
      timeoutMs: 15_000,
      message: 'rates even',
    });
  });

  it('a worker that falls behind stops claiming, sheds its most expensive jobset, and claims again after recovering', async () => {
    const desired = snapshot(names(8)); // 8 jobsets of 1 job
    // rateCapHoldMs 0: the rate cap kept after shedding lifts at recovery (its hold is tested in test/balance)
    const tuning = { shedWindowMs: 300, recoverWindowMs: 600, rateCapHoldMs: 0, rebalance: false };
    const a = worker('l1', 'shed', () => desired, { tuning });
    await a.coord.start();
    await waitFor(() => a.jobs().size === 8, { timeoutMs: 5000, message: 'a owns everything' });
    const b = worker('l2', 'shed', () => desired, { tuning });
    await b.coord.start();
    const lagging = () => new Map([...a.jobs().keys()].map((n) => [n, { lagMs: 5000, intervalMs: 1000 }]));
    // report lag for longer than the window: a sheds (one jobset per window) and b takes them
    await waitFor(
      () => {
        a.coord.reportLag(lagging());
        return b.jobs().size >= 2;
      },
      { timeoutMs: 5000, intervalMs: 100, message: 'b took shed work' },
    );
    await waitFor(() => b.coord.status().workers.find((w) => w.id === 'l1')?.shedding === true, {
      timeoutMs: 3000,
      message: 'a published shedding',
    });
    expect(a.jobs().size + b.jobs().size).toBe(8);
    // healthy again: after the recover window a claims again (it takes a jobset b sheds)
    const healthy = () => new Map([...a.jobs().keys()].map((n) => [n, { lagMs: 1, intervalMs: 1000 }]));
    await waitFor(
      () => {
        a.coord.reportLag(healthy());
        return b.coord.status().workers.find((w) => w.id === 'l1')?.shedding === false;
      },
      { timeoutMs: 5000, intervalMs: 100, message: 'a no longer shedding' },
    );
    const before = a.jobs().size;
    await b.coord.stop();
    started.splice(started.indexOf(b), 1);
    await waitFor(() => a.jobs().size === 8, { timeoutMs: 3000, message: 'a claims again' });
    expect(before).toBeLessThan(8);
  });

  it('a worker whose own faults dominate sheds half its work per window to a healthy worker and takes nothing meanwhile', async () => {
    const desired = snapshot(names(8)); // 8 jobsets of 1 job
    const tuning = { shedWindowMs: 300, rebalance: false };
    const a = worker('d1', 'localfaults', () => desired, { tuning });
    await a.coord.start();
    await waitFor(() => a.jobs().size === 8, { timeoutMs: 5000, message: 'a owns everything' });
    const b = worker('d2', 'localfaults', () => desired, { tuning });
    await b.coord.start();
    a.coord.setLocallyDegraded(true);
    const healthy = () => new Map([...a.jobs().keys()].map((n) => [n, { lagMs: 1, intervalMs: 1000 }]));
    await waitFor(
      () => {
        a.coord.reportLag(healthy(), 8);
        return b.jobs().size >= 6;
      },
      { timeoutMs: 10_000, intervalMs: 100, message: 'b took most of the work' },
    );
    await waitFor(() => b.coord.status().workers.find((w) => w.id === 'd1')?.shedding === true, {
      timeoutMs: 3000,
      message: 'a published shedding while degraded',
    });
    expect(a.jobs().size + b.jobs().size).toBe(8);
    a.coord.setLocallyDegraded(false);
    await waitFor(() => b.coord.status().workers.find((w) => w.id === 'd1')?.shedding === false, {
      timeoutMs: 5000,
      message: 'a no longer shedding',
    });
  });
});
