/**
 * The raw watch: delivers events in order, reports compaction and a frozen member as broken
 * (exactly once, never as an exception), and progress answers advance the revision.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdRpc, op, type WatchEvent } from '../../src/cluster/etcd/client.js';
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

function watcher(prefix: string, fromRev: number, progressMs = 300) {
  const events: WatchEvent[] = [];
  const broken: string[] = [];
  let rev = 0;
  const w = new RangeWatch(
    rpc,
    systemClock,
    {
      onEvents: (e, r) => {
        events.push(...e);
        rev = Math.max(rev, r);
      },
      onBroken: (reason) => broken.push(reason),
    },
    3000,
    progressMs,
  );
  w.start(prefix, prefixEnd(prefix), fromRev);
  return { w, events, broken, rev: () => rev };
}

describe('RangeWatch', () => {
  it('delivers puts and deletes of its range in order; progress answers advance the revision', async () => {
    const start = (await rpc.get('/w1/x')).rev;
    const x = watcher('/w1/', start + 1);
    await rpc.txn([], [op.put('/w1/a', '1')]);
    await rpc.txn([], [op.put('/other/a', '1')]);
    const last = await rpc.txn([], [op.del('/w1/a')]);
    await waitFor(() => x.events.length === 2, { timeoutMs: 3000, message: 'two events' });
    expect(x.events.map((e) => `${e.type} ${e.kv.key}`)).toEqual(['put /w1/a', 'delete /w1/a']);
    const other = await rpc.txn([], [op.put('/other/b', '1')]);
    await waitFor(() => x.rev() >= other.rev, { timeoutMs: 3000, message: 'progress revision' });
    expect(last.rev).toBeLessThan(other.rev);
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
