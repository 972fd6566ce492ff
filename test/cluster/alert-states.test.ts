/**
 * AlertStateStore against the in-memory etcd (no etcd process): loading states, the save queue
 * flushed as one txn per owned jobset fenced by its owner token, a lost fence (the jobset is no
 * longer ours), and a write etcd refuses (NOSPACE: the refusal episode, retried with backoff).
 */
import { describe, expect, it } from 'vitest';
import type { EtcdWriteState } from '../../src/cluster/coordinator.js';
import { AlertStateStore } from '../../src/cluster/etcd/alert-states.js';
import { DEFAULT_TUNING } from '../../src/cluster/etcd/options.js';
import type { AlertState } from '../../src/model/alert.js';
import { fakeCluster, settle } from './fake-etcd.js';

const state = (endpoint: string, s: AlertState['state'] = 'DOWN'): AlertState => ({
  endpoint,
  state: s,
  consecutiveFailures: s === 'DOWN' ? 3 : 0,
  consecutiveSuccesses: s === 'UP' ? 2 : 0,
  since: 1000,
  reason: s === 'DOWN' ? 'timeout' : null,
});

function setup() {
  const { clock, keys, ctx, etcd } = fakeCluster();
  // js1 = {a, b} owned by us at the owner key's revision; c is in no owned jobset
  const token = etcd.put(keys.owner('js1'), { owner: 'me' }, '77');
  const tokens = new Map([['js1', token]]);
  const jobsOf = new Map([['js1', ['a', 'b']]]);
  const store = new AlertStateStore(ctx, {
    jobsetOf: (name) => [...jobsOf].find(([, names]) => names.includes(name))?.[0],
    ownerToken: (jsid) => tokens.get(jsid),
    jobsetHasJob: (jsid, name) => jobsOf.get(jsid)?.includes(name) ?? false,
  });
  const writes: EtcdWriteState[] = [];
  ctx.writes.events.on('writes', (w) => writes.push(w));
  return { clock, keys, ctx, etcd, store, tokens, writes };
}

describe('AlertStateStore', () => {
  it('loads the states it finds, skipping unparsable ones, in chunks of 100', async () => {
    const s = setup();
    s.etcd.put(s.keys.state('a'), state('a'));
    s.etcd.put(s.keys.state('b'), '{"endpoint":"b","state":"SIDEWAYS"}');
    const names = ['a', 'b', ...Array.from({ length: 150 }, (_, i) => `n${i}`)];
    s.etcd.put(s.keys.state('n149'), state('n149', 'UP'));
    const txnsBefore = s.etcd.txns.length;
    const got = await s.store.load(names);
    expect([...got.keys()].sort()).toEqual(['a', 'n149']);
    expect(got.get('a')).toEqual(state('a'));
    expect(got.get('n149')?.state).toBe('UP');
    expect(s.etcd.txns.length - txnsBefore).toBe(2);
  });

  it('loads nothing without a connection', async () => {
    const s = setup();
    s.ctx.state.rpc = null;
    expect((await s.store.load(['a'])).size).toBe(0);
  });

  it('saves the states of owned jobs in one txn fenced by the owner token; others are dropped', async () => {
    const s = setup();
    s.store.save(state('a'));
    s.store.save(state('b', 'UP'));
    s.store.save(state('c')); // not ours
    const before = s.etcd.txns.length;
    s.clock.advance(0);
    await settle();
    const sent = s.etcd.txns.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.succeeded).toBe(true);
    expect(sent[0]?.compare.map((c) => [c.key?.toString(), Number(c.mod_revision)])).toEqual([
      [s.keys.owner('js1'), s.tokens.get('js1')],
    ]);
    expect(s.etcd.value(s.keys.state('a'))).toEqual(state('a'));
    expect(s.etcd.value(s.keys.state('b'))).toEqual(state('b', 'UP'));
    expect(s.etcd.kvs.has(s.keys.state('c'))).toBe(false);
  });

  it('a jobset taken by another worker meanwhile: the fence fails, nothing is written or retried', async () => {
    const s = setup();
    s.etcd.put(s.keys.owner('js1'), { owner: 'other' }, '88');
    s.store.save(state('a'));
    s.clock.advance(0);
    await settle();
    const last = s.etcd.txns.at(-1);
    expect(last?.succeeded).toBe(false);
    expect(s.etcd.kvs.has(s.keys.state('a'))).toBe(false);
    const count = s.etcd.txns.length;
    s.clock.advance(DEFAULT_TUNING.maxBackoffMs);
    await settle();
    expect(s.etcd.txns.length).toBe(count);
    // nothing left to carry into a later handover either
    expect(s.store.takePendingOps(new Set(['js1']))).toEqual([]);
  });

  it('a write etcd refuses starts one refusal episode, is retried with backoff and ends it', async () => {
    const s = setup();
    const nospace = () => new Error('etcdserver: mvcc: database space exceeded');
    s.etcd.failNext.push({ error: nospace(), applied: false }, { error: nospace(), applied: false });
    s.store.save(state('a'));
    s.clock.advance(0);
    await settle();
    expect(s.writes).toEqual([
      expect.objectContaining({ refused: true, cause: 'nospace', what: 'alert states' }),
    ]);
    expect(s.ctx.writes.state?.cause).toBe('nospace');
    expect(s.etcd.kvs.has(s.keys.state('a'))).toBe(false);
    // the first retry is backed off (at least 125 ms), the second refusal adds no event
    s.clock.advance(100);
    await settle();
    expect(s.etcd.failNext).toHaveLength(1);
    s.clock.advance(DEFAULT_TUNING.maxBackoffMs);
    await settle();
    expect(s.etcd.failNext).toHaveLength(0);
    expect(s.writes).toHaveLength(1);
    s.clock.advance(DEFAULT_TUNING.maxBackoffMs);
    await settle();
    expect(s.etcd.value(s.keys.state('a'))).toEqual(state('a'));
    expect(s.writes.at(-1)).toMatchObject({ refused: false });
    expect(s.ctx.writes.state).toBeNull();
  });

  it('hands pending states of given-away jobsets to the handover txn', () => {
    const s = setup();
    s.store.save(state('a'));
    s.store.save(state('c'));
    const ops = s.store.takePendingOps(new Set(['js1']));
    expect(ops.map((o) => o.request_put?.key?.toString())).toEqual([s.keys.state('a')]);
    // taken: not saved a second time by the queue
    expect(s.store.takePendingOps(new Set(['js1']))).toEqual([]);
  });
});
