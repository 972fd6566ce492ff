/**
 * Pure parts of cluster/etcd: claim planning, admin order, move planning, packing, key layout,
 * and the session's own deadline (with a fake clock and a fake RPC).
 */
import { describe, expect, it, vi } from 'vitest';
import type { EtcdRpc } from '../../src/cluster/etcd/client.js';
import { writeRefusalOf } from '../../src/cluster/etcd/errors.js';
import { Keys } from '../../src/cluster/etcd/keys.js';
import {
  type CurrentJobset,
  type DesiredJob,
  MAX_JOBS_PER_JOBSET,
  pack,
  stableJson,
  targetJobsetSize,
} from '../../src/cluster/etcd/packing.js';
import {
  adminRank,
  type Candidate,
  type OwnedJobset,
  planClaimRanks,
  planClaims,
  planMoves,
  rendezvous,
} from '../../src/cluster/etcd/plan.js';
import { Session } from '../../src/cluster/etcd/session.js';
import { FakeClock } from '../../src/model/clock.js';
import { silentLogger } from '../../src/model/logger.js';
import { raw } from './etcd-helpers.js';

const cand = (
  id: string,
  rate = 0,
  jobs = 0,
  capacity: number | null = null,
  shedding = false,
): Candidate => ({
  id,
  rate,
  jobs,
  capacity,
  shedding,
});

describe('planClaims', () => {
  it('gives every free jobset one primary and water-fills the least loaded first', () => {
    const free = Array.from({ length: 9 }, (_, i) => ({ id: `js-${i}`, jobs: 2, rate: 2 }));
    const plan = planClaims(free, [cand('a', 10, 10), cand('b', 0, 0), cand('c', 0, 0)]);
    const primaries = [...plan.values()].map((r) => r[0]);
    const count = (id: string) => primaries.filter((p) => p === id).length;
    // b and c fill up to a's load (10) first: 5 each would be 10; 9 jobsets: a gets none
    expect(count('a')).toBe(0);
    expect(count('b') + count('c')).toBe(9);
    expect(Math.abs(count('b') - count('c'))).toBeLessThanOrEqual(1);
    // each ranking lists every eligible candidate once
    for (const r of plan.values()) expect(new Set(r).size).toBe(3);
  });

  it('is the same on every worker whatever the input order', () => {
    const free = [
      { id: 'x', jobs: 1, rate: 1 },
      { id: 'y', jobs: 1, rate: 1 },
      { id: 'z', jobs: 3, rate: 3 },
    ];
    const ws = [cand('w1'), cand('w2'), cand('w3')];
    const a = planClaims(free, ws);
    const b = planClaims([...free].reverse(), [...ws].reverse());
    expect([...a.entries()].sort()).toEqual([...b.entries()].sort());
  });

  it('skips shedding workers and workers without room', () => {
    const plan = planClaims(
      [{ id: 'big', jobs: 10, rate: 1 }],
      [cand('full', 0, 5, 10), cand('shed', 0, 0, null, true), cand('ok', 5, 50)],
    );
    expect(plan.get('big')).toEqual(['ok']);
  });
});

describe('planClaimRanks', () => {
  it("gives each worker its rank of planClaims' rankings, on random loads, ties and capacities", () => {
    let seed = 11;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const free = Array.from({ length: 1 + rnd(40) }, (_, i) => ({
        id: `js-${i}`,
        jobs: 1 + rnd(3),
        rate: [0.5, 1, 1.5][rnd(3)] as number,
      }));
      const ws = Array.from({ length: 1 + rnd(8) }, (_, i) =>
        cand(`w${i}`, rnd(3) * 2, rnd(3), rnd(4) === 0 ? 4 + rnd(6) : null, rnd(6) === 0),
      );
      const plan = planClaims(free, ws);
      for (const w of ws) {
        const ranks = planClaimRanks(free, ws, w.id);
        for (const js of free) expect(ranks.get(js.id)).toBe(plan.get(js.id)?.indexOf(w.id) ?? -1);
      }
    }
  });

  it('spreads 5,000 equal free jobsets evenly over 100 workers: 50 at rank 0 for each', () => {
    // its cost is measured by the simulation (bench/cluster/sim.mjs), not timed here
    const free = Array.from({ length: 5000 }, (_, i) => ({ id: `js-${i}`, jobs: 64, rate: 6.4 }));
    const ws = Array.from({ length: 100 }, (_, i) => cand(`w${i}`));
    const ranks = planClaimRanks(free, ws, 'w7');
    expect([...ranks.values()].filter((r) => r === 0)).toHaveLength(50);
  });
});

describe('adminRank', () => {
  it('orders workers the same way everywhere, one at rank 0', () => {
    const ws = ['a', 'b', 'c', 'd'];
    const ranks = ws.map((w) => adminRank(ws, w)).sort();
    expect(ranks).toEqual([0, 1, 2, 3]);
    expect(adminRank([...ws].reverse(), 'a')).toBe(adminRank(ws, 'a'));
  });
  it('rendezvous scores differ for similar ids', () => {
    expect(rendezvous('js-1', 'w1')).not.toBe(rendezvous('js-1', 'w2'));
  });
});

describe('planMoves', () => {
  const owned = (owner: string, n: number, rate = 1, prefix = owner): OwnedJobset[] =>
    Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, owner, jobs: 2, rate, movable: true }));

  it('moves towards an even share, as few as possible', () => {
    const moves = planMoves([cand('a', 20, 40), cand('b', 0, 0)], owned('a', 20), { maxMoves: 100 });
    expect(moves).toHaveLength(10);
    expect(moves.every((m) => m.from === 'a' && m.to === 'b')).toBe(true);
  });

  it('never moves between equal loads or within the tolerance band (no oscillation)', () => {
    expect(
      planMoves([cand('a', 10), cand('b', 10)], [...owned('a', 10), ...owned('b', 10)], { maxMoves: 10 }),
    ).toEqual([]);
    // 7 / 7 / 6 jobsets of equal rate: a move would only swap the imbalance
    const ws = [cand('a', 7), cand('b', 7), cand('c', 6)];
    expect(planMoves(ws, [...owned('a', 7), ...owned('b', 7), ...owned('c', 6)], { maxMoves: 10 })).toEqual(
      [],
    );
  });

  it('converges: applying the planned moves repeatedly reaches a fixed point', () => {
    let ws = [cand('a', 0), cand('b', 0), cand('c', 0)];
    let js: OwnedJobset[] = [...owned('a', 12, 1, 'p'), ...owned('a', 3, 5, 'q'), ...owned('b', 4, 0.5, 'r')];
    for (let round = 0; round < 20; round++) {
      ws = ws.map((w) => ({
        ...w,
        rate: js.filter((j) => j.owner === w.id).reduce((s, j) => s + j.rate, 0),
      }));
      const moves = planMoves(ws, js, { maxMoves: 3 });
      if (moves.length === 0) break;
      js = js.map((j) => {
        const m = moves.find((x) => x.jobset === j.id);
        return m ? { ...j, owner: m.to } : j;
      });
      expect(round).toBeLessThan(19);
    }
    const loads = ws.map((w) => js.filter((j) => j.owner === w.id).reduce((s, j) => s + j.rate, 0));
    expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(5);
  });

  it('respects the receiver capacity and the bound per round', () => {
    const moves = planMoves([cand('a', 20, 40), cand('b', 0, 0, 4)], owned('a', 20), { maxMoves: 100 });
    expect(moves).toHaveLength(2);
    expect(planMoves([cand('a', 20, 40), cand('b', 0, 0)], owned('a', 20), { maxMoves: 3 })).toHaveLength(3);
  });
});

describe('packing', () => {
  let seq = 0;
  const newId = () => `js-new-${++seq}`;
  const desired = (names: string[], extra: Record<string, unknown> = {}) =>
    new Map<string, DesiredJob>(names.map((n) => [n, { raw: raw(n, extra), rate: 1 }]));
  const apply = (cur: CurrentJobset[], res: ReturnType<typeof pack>): CurrentJobset[] => {
    const m = new Map(cur.map((c) => [c.id, c]));
    for (const id of res.deletes) m.delete(id);
    for (const [id, value] of res.puts) m.set(id, { id, value });
    return [...m.values()];
  };
  const names = (n: number, p = 'e') => Array.from({ length: n }, (_, i) => `${p}${i}`);

  it('sizes jobsets for about 32 per cluster, at most 64 jobs', () => {
    expect(targetJobsetSize(1)).toBe(1);
    expect(targetJobsetSize(40)).toBe(2);
    expect(targetJobsetSize(1000)).toBe(32);
    expect(targetJobsetSize(100_000)).toBe(MAX_JOBS_PER_JOBSET);
    const res = pack([], desired(names(40)), { newId });
    expect(res.puts.size).toBe(20);
    expect(res.added).toHaveLength(40);
  });

  it('keeps membership stable: add → most room, change → only its jobset, remove → leaves it, empty → deleted', () => {
    let cur = apply([], pack([], desired(names(40)), { newId }));
    const where = (name: string) => cur.find((c) => c.value.jobs[name])!.id;
    const before = new Map(names(40).map((n) => [n, where(n)]));
    // unchanged desired: nothing to write
    const same = pack(cur, desired(names(40)), { newId });
    expect(same.puts.size + same.deletes.length).toBe(0);
    // remove e0 and e1 (the same jobset): it is deleted; others untouched
    const js0 = where('e0');
    expect(where('e1')).toBe(js0);
    let res = pack(cur, desired(names(40).slice(2)), { newId });
    expect(res.deletes).toEqual([js0]);
    expect(res.puts.size).toBe(0);
    expect(res.removed.sort()).toEqual(['e0', 'e1']);
    cur = apply(cur, res);
    // add one: goes to a jobset with room (target for 39 jobs = 2 → none has room → new jobset)
    res = pack(cur, desired([...names(40).slice(2), 'new1']), { newId });
    expect(res.puts.size).toBe(1);
    cur = apply(cur, res);
    // change one: only its jobset is rewritten
    const d = desired([...names(40).slice(2), 'new1']);
    d.set('e7', { raw: raw('e7', { interval: '5s' }), rate: 0.2 });
    res = pack(cur, d, { newId });
    expect([...res.puts.keys()]).toEqual([before.get('e7')]);
    expect(res.changed).toEqual(['e7']);
    // existing jobs never moved
    cur = apply(cur, res);
    for (const n of names(40).slice(2)) expect(where(n)).toBe(before.get(n));
  });

  it('packs 20,000 new jobs without listing the jobs of a jobset per placement (the admin packs on its event loop)', () => {
    // Counting each jobset's jobs per placement (Object.keys per candidate per new job) made this
    // quadratic: 10,000 jobs took 3.4 s of one core and cost the admin its lease at start-up.
    // Counted, not timed: a listing per jobset written is fine, one per placement is not.
    const d = desired(names(20_000));
    const keys = vi.spyOn(Object, 'keys');
    let listings: number;
    let res: ReturnType<typeof pack>;
    try {
      res = pack([], d, { newId });
      listings = keys.mock.calls.length;
    } finally {
      keys.mockRestore();
    }
    expect(res.added).toHaveLength(20_000);
    expect(res.puts.size).toBe(Math.ceil(20_000 / MAX_JOBS_PER_JOBSET));
    expect(listings).toBeLessThanOrEqual(2 * res.puts.size);
  });

  it('keeps the jobs of a file that currently has problems', () => {
    const cur = apply([], pack([], desired(names(4)), { newId }));
    const res = pack(cur, new Map(), { newId, retainFiles: new Set(['endpoints.d/a.yml']) });
    expect(res.deletes).toEqual([]);
    expect(res.removed).toEqual([]);
  });

  it('caps jobs per jobset and bytes per jobset', () => {
    const res = pack([], desired(names(200_0)), { newId, maxJobs: 64 });
    for (const v of res.puts.values()) expect(Object.keys(v.jobs).length).toBeLessThanOrEqual(64);
    const big = pack([], desired(names(10), { blob: 'x'.repeat(100_000) }), { newId, maxBytes: 250_000 });
    for (const v of big.puts.values()) expect(Buffer.byteLength(JSON.stringify(v))).toBeLessThan(260_000);
  });

  it('stableJson ignores key order', () => {
    expect(stableJson({ a: 1, b: { c: 2, d: [1, { e: 3, f: 4 }] } })).toBe(
      stableJson({ b: { d: [1, { f: 4, e: 3 }], c: 2 }, a: 1 }),
    );
  });
});

describe('keys', () => {
  it('lays out and parses keys; rejects bad names', () => {
    const k = new Keys('prod');
    expect(k.worker('w1')).toBe('/watcher/prod/workers/w1');
    expect(k.parse(k.owner('js-1'))).toEqual({ kind: 'owner', id: 'js-1' });
    expect(k.parse(k.state('host:8080/a/b'))).toEqual({ kind: 'state', id: 'host:8080/a/b' });
    expect(k.parse(k.admin)).toEqual({ kind: 'admin', id: '' });
    expect(k.parse('/watcher/other/admin')).toBeNull();
    expect(() => new Keys('a/b')).toThrow(/invalid cluster name/);
    expect(() => Keys.checkWorkerId('')).toThrow(/invalid worker id/);
    // coordination keys sort before state/, workers after it
    const [start, end] = k.coordinationRange;
    for (const key of [k.admin, k.jobset('x'), k.move('x'), k.owner('x')])
      expect(key >= start && key < end).toBe(true);
    expect(k.state('x') >= end).toBe(true);
    expect(k.worker('x') > k.state('zzz')).toBe(true);
  });
});

describe('session deadline', () => {
  function fakeRpc(clock: FakeClock, behaviour: { ttl: number; fail?: boolean; delayMs?: number }) {
    return {
      leaseGrant: async (ttl: number) => ({ id: '42', ttlSec: ttl }),
      keepAliveOnce: async () => {
        if (behaviour.delayMs) clock.advance(behaviour.delayMs);
        if (behaviour.fail) throw new Error('unavailable');
        return behaviour.ttl;
      },
    } as unknown as EtcdRpc;
  }

  it('deadline = send time of the last acknowledged keepalive + TTL − margin', async () => {
    const clock = new FakeClock(1_000_000);
    const rpc = fakeRpc(clock, { ttl: 5 });
    const s = await Session.grant(rpc, { ttlSec: 5, clock, logger: silentLogger, marginMs: 500 });
    expect(s.deadlineAt()).toBe(1_000_000 + 4500);
    clock.advance(1000);
    expect(await s.keepAliveNow()).toBe('alive');
    expect(s.deadlineAt()).toBe(1_001_000 + 4500);
    expect(s.valid()).toBe(true);
    clock.advance(4499);
    expect(s.valid()).toBe(true);
    clock.advance(1);
    expect(s.valid()).toBe(false);
  });

  it('a wall-clock step back never makes the lease look valid longer (deadlines are monotonic)', async () => {
    const clock = new FakeClock(1_000_000);
    const s = await Session.grant(fakeRpc(clock, { ttl: 5 }), {
      ttlSec: 5,
      clock,
      logger: silentLogger,
      marginMs: 500,
    });
    clock.advance(4000);
    clock.stepWall(-3600_000);
    expect(s.valid()).toBe(true);
    clock.advance(500);
    expect(s.valid()).toBe(false);
    clock.stepWall(7200_000);
    const s2 = await Session.grant(fakeRpc(clock, { ttl: 5 }), { ttlSec: 5, clock, logger: silentLogger });
    clock.stepWall(3600_000);
    // a step forward does not end a lease early either
    expect(s2.valid()).toBe(true);
  });

  it('fires onExpired when the deadline passes without renewal, and "lost" when etcd says TTL 0', async () => {
    const clock = new FakeClock(0);
    const behaviour = { ttl: 2, fail: true };
    const s = await Session.grant(fakeRpc(clock, behaviour), {
      ttlSec: 2,
      clock,
      logger: silentLogger,
      marginMs: 300,
    });
    const seen: string[] = [];
    s.start({
      onRenewed: () => seen.push('renewed'),
      onUnreachable: () => seen.push('unreachable'),
      onExpired: (r) => seen.push(r),
    });
    for (let i = 0; i < 40 && !seen.includes('deadline'); i++) {
      clock.advance(100);
      await new Promise((r) => setImmediate(r));
    }
    expect(seen).toContain('unreachable');
    expect(seen[seen.length - 1]).toBe('deadline');
    expect(clock.now()).toBeLessThanOrEqual(2000);

    const clock2 = new FakeClock(0);
    const s2 = await Session.grant(fakeRpc(clock2, { ttl: 0 }), {
      ttlSec: 2,
      clock: clock2,
      logger: silentLogger,
    });
    const seen2: string[] = [];
    s2.start({ onRenewed: () => {}, onUnreachable: () => {}, onExpired: (r) => seen2.push(r) });
    clock2.advance(700);
    await new Promise((r) => setImmediate(r));
    expect(seen2).toEqual(['lost']);
  });

  it('a call frozen far beyond its timeout (SIGSTOP) is not taken as network evidence', async () => {
    const clock = new FakeClock(0);
    const s = await Session.grant(fakeRpc(clock, { ttl: 5, fail: true, delayMs: 10_000 }), {
      ttlSec: 5,
      clock,
      logger: silentLogger,
    });
    await expect(s.keepAliveNow()).rejects.toThrow();
    expect(s.unreachable()).toBe(false);
    const s2 = await Session.grant(fakeRpc(clock, { ttl: 5, fail: true, delayMs: 100 }), {
      ttlSec: 5,
      clock,
      logger: silentLogger,
    });
    await expect(s2.keepAliveNow()).rejects.toThrow();
    expect(s2.unreachable()).toBe(true);
  });
});

describe('quantizeLag', () => {
  it('rounds up to the 1-2-5 series', async () => {
    const { quantizeLag } = await import('../../src/cluster/etcd/coordinator.js');
    expect([0, 0.2, 1, 1.5, 3, 7, 12, 180, 999, 1001].map(quantizeLag)).toEqual([
      0, 0, 1, 2, 5, 10, 20, 200, 1000, 2000,
    ]);
  });
});

describe('writeRefusalOf', () => {
  it('names lasting refusals with a remedy, and nothing else', () => {
    expect(writeRefusalOf(new Error('etcdserver: mvcc: database space exceeded'))).toMatchObject({
      cause: 'nospace',
      remedy: expect.stringContaining('etcdctl alarm disarm'),
    });
    expect(writeRefusalOf(new Error('etcdserver: request is too large'))?.cause).toBe('too_large');
    expect(writeRefusalOf(new Error('etcdserver: too many requests'))?.cause).toBe('too_many_requests');
    expect(writeRefusalOf(new Error('14 UNAVAILABLE: No connection established'))).toBeNull();
  });
});
