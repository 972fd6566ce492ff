/**
 * The raw watch: delivers events in order, reports compaction and a frozen member as broken
 * (exactly once, never as an exception). Progress answers prove the stream alive but never report
 * a revision past the events delivered: etcd 3.4.23 answers with the store's revision even while
 * events up to it are still queued for a slow watcher (etcd-io/etcd#15220).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdRpc, op, txnChanged, type WatchEvent } from '../../src/cluster/etcd/client.js';
import { prefixEnd } from '../../src/cluster/etcd/keys.js';
import { RangeWatch } from '../../src/cluster/etcd/watch.js';
import { systemClock } from '../../src/model/clock.js';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { waitFor } from '../support/wait.js';

let etcd: EtcdCluster;
let rpc: EtcdRpc;

beforeAll(async () => {
  etcd = await startEtcdCluster({ members: 1 });
  rpc = new EtcdRpc({ endpoints: etcd.clientUrls });
});
afterAll(async () => {
  rpc?.close();
  await etcd?.close();
});

function watcher(prefix: string, fromRev: number, progressMs = 300, busyMs = 0) {
  const events: WatchEvent[] = [];
  const broken: string[] = [];
  /** an event at or below a revision reported before it */
  const late: string[] = [];
  let rev = 0;
  let progressAnswers = 0;
  const w = new RangeWatch(
    rpc,
    systemClock,
    {
      onEvents: (e, r) => {
        for (const x of e)
          if (x.kv.modRev <= rev) late.push(`event at ${x.kv.modRev} after ${rev} was reported`);
        if (e.length === 0) progressAnswers++;
        events.push(...e);
        rev = Math.max(rev, r);
        const until = performance.now() + busyMs; // a consumer whose event loop is busy
        while (performance.now() < until);
      },
      onBroken: (reason) => broken.push(reason),
    },
    3000,
    progressMs,
  );
  w.start(prefix, prefixEnd(prefix), fromRev);
  return { w, events, broken, late, rev: () => rev, progressAnswers: () => progressAnswers };
}

describe('RangeWatch', () => {
  it("delivers puts and deletes of its range in order; a progress answer reports the delivered revision, not the store's", async () => {
    const start = (await rpc.get('/w1/x')).rev;
    const x = watcher('/w1/', start + 1);
    await rpc.txn([], [op.put('/w1/a', '1')]);
    await rpc.txn([], [op.put('/other/a', '1')]);
    const last = await rpc.txn([], [op.del('/w1/a')]);
    await waitFor(() => x.events.length === 2, { timeoutMs: 3000, message: 'two events' });
    expect(x.events.map((e) => `${e.type} ${e.kv.key}`)).toEqual(['put /w1/a', 'delete /w1/a']);
    const other = await rpc.txn([], [op.put('/other/b', '1')]);
    const answers = x.progressAnswers();
    await waitFor(() => x.progressAnswers() >= answers + 2, { timeoutMs: 3000, message: 'progress answers' });
    expect(other.rev).toBeGreaterThan(last.rev);
    expect(x.rev()).toBe(last.rev);
    expect(x.broken).toEqual([]);
    x.w.close();
  });

  it('a slow consumer: no event ever arrives at or below a revision already reported (etcd#15220)', async () => {
    const start = (await rpc.get('/w4/x')).rev;
    // progress requests every 300 ms while each batch keeps the event loop busy for 3 ms
    const x = watcher('/w4/', start + 1, 300, 3);
    const big = 'x'.repeat(20_000);
    let lastRev = 0;
    for (let b = 0; b < 40; b++) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, (_, i) => rpc.txn([], [op.put(`/w4/k${i}`, big)])),
      );
      lastRev = Math.max(lastRev, ...batch.map((r) => r.rev));
    }
    await waitFor(() => x.rev() >= lastRev || x.broken.length > 0, {
      timeoutMs: 20_000,
      message: 'every event delivered',
    });
    expect(x.broken).toEqual([]);
    expect(x.events).toHaveLength(2000);
    expect(x.progressAnswers()).toBeGreaterThan(0);
    expect(x.late.slice(0, 3)).toEqual([]);
    expect(x.broken).toEqual([]);
    x.w.close();
  });

  it('reports a start revision that was compacted as broken', async () => {
    await rpc.txn([], [op.put('/w2/a', '1')]);
    const r = await rpc.txn([], [op.put('/w2/a', '2')]);
    await rpc.client.kv.compact({ revision: r.rev });
    const x = watcher('/w2/', 1);
    await waitFor(() => x.broken.length === 1, { timeoutMs: 3000, message: 'broken' });
    expect(x.broken[0]).toMatch(/compacted/);
    x.w.close();
  });

  it('reports a frozen member (no answer to progress requests) as broken, once', async () => {
    const x = watcher('/w3/', (await rpc.get('/w3/x')).rev + 1);
    await waitFor(() => x.rev() > 0, { timeoutMs: 3000, message: 'created and answering' });
    etcd.pauseMember('m1');
    try {
      await waitFor(() => x.broken.length > 0, { timeoutMs: 3000, message: 'silent stream detected' });
    } finally {
      etcd.resumeMember('m1');
    }
    expect(x.broken).toHaveLength(1);
    expect(x.broken[0]).toMatch(/silent/);
    x.w.close();
  });
});

describe('txnChanged (what the admin waits for the mirror to see)', () => {
  it('a put or a delete that finds a key changes the store; a delete of a missing key does not, and gets no revision', async () => {
    const put = [op.put('/t1/a', '1')];
    const p = await rpc.txn([], put);
    expect(txnChanged(put, p)).toBe(true);
    const missing = [op.del('/t1/none')];
    const m = await rpc.txn([], missing);
    expect(txnChanged(missing, m)).toBe(false);
    expect(m.rev).toBe(p.rev);
    const del = [op.del('/t1/a')];
    const d = await rpc.txn([], del);
    expect(txnChanged(del, d)).toBe(true);
    expect(d.rev).toBe(p.rev + 1);
  });
});
