/**
 * Unit tests of the coordinator's pieces that need no etcd: the shared context (backoff, events),
 * the pick-what-to-shed function, the job view, the admin election against a scripted rpc, the
 * tuning checks, and the standalone coordinator.
 */
import { describe, expect, it } from 'vitest';
import type { OwnedJob } from '../../src/cluster/coordinator.js';
import { AdminElection } from '../../src/cluster/etcd/admin-election.js';
import type { EtcdRpc, KeyValue } from '../../src/cluster/etcd/client.js';
import { ClusterContext, Emitter } from '../../src/cluster/etcd/context.js';
import { JobView } from '../../src/cluster/etcd/job-view.js';
import { Keys } from '../../src/cluster/etcd/keys.js';
import { Mirror } from '../../src/cluster/etcd/mirror.js';
import { checkTuning, DEFAULT_TUNING } from '../../src/cluster/etcd/options.js';
import { Registration } from '../../src/cluster/etcd/registration.js';
import type { Session } from '../../src/cluster/etcd/session.js';
import { pickShed } from '../../src/cluster/etcd/shedding.js';
import { StandaloneCoordinator } from '../../src/cluster/standalone.js';
import { FakeClock } from '../../src/model/clock.js';
import type { Logger } from '../../src/model/logger.js';
import { silentLogger } from '../../src/model/logger.js';
import { fakeNormalize, raw, snapshot } from './etcd-helpers.js';

function ctxOf(clock = new FakeClock(), log: Logger = silentLogger): ClusterContext {
  return new ClusterContext(new Keys('t'), clock, log, 'me', { ...DEFAULT_TUNING });
}

function kv(key: string, value: unknown, rev: number, lease = '0'): KeyValue {
  return { key, value: Buffer.from(JSON.stringify(value)), createRev: rev, modRev: rev, version: 1, lease };
}

describe('shared context', () => {
  it('backs off from 125-250 ms, doubling, never above maxBackoffMs', () => {
    const ctx = ctxOf();
    for (let i = 0; i < 50; i++) {
      const first = ctx.backoffMs(0);
      expect(first).toBeGreaterThanOrEqual(125);
      expect(first).toBeLessThanOrEqual(250);
      expect(ctx.backoffMs(20)).toBeLessThanOrEqual(DEFAULT_TUNING.maxBackoffMs);
      expect(ctx.backoffMs(20)).toBeGreaterThanOrEqual(DEFAULT_TUNING.maxBackoffMs / 2);
    }
  });

  it('rpc() without a connection throws CLUSTER_STOPPED', () => {
    expect(() => ctxOf().rpc()).toThrow(expect.objectContaining({ code: 'CLUSTER_STOPPED' }));
  });

  it('a throwing event listener is logged and does not stop the others', () => {
    const errors: string[] = [];
    const log = { ...silentLogger, error: (_o: object, msg: string) => errors.push(msg) } as Logger;
    const e = new Emitter<{ x: [n: number] }>(log);
    const seen: number[] = [];
    e.on('x', () => {
      throw new Error('boom');
    });
    e.on('x', (n) => seen.push(n));
    e.emit('x', 7);
    expect(seen).toEqual([7]);
    expect(errors).toEqual(['coordinator event listener failed']);
  });
});

describe('pickShed', () => {
  const others = [{ id: 'b', capacity: null, jobs: 0, rate: 0, shedding: false, rateCap: null }];

  it('releases the most expensive jobsets first, down to the target', () => {
    const owned = [
      { id: 'small', count: 1, rate: 1 },
      { id: 'big', count: 5, rate: 5 },
      { id: 'mid', count: 3, rate: 3 },
    ];
    expect(pickShed(owned, 9, 4, others).map((j) => j.id)).toEqual(['big']);
    expect(pickShed(owned, 9, 0.5, others).map((j) => j.id)).toEqual(['big', 'mid', 'small']);
  });

  it('sheds at least one jobset, and only what another worker has room for', () => {
    const owned = [{ id: 'a', count: 2, rate: 2 }];
    expect(pickShed(owned, 2, 5, others).map((j) => j.id)).toEqual(['a']);
    const full = [{ id: 'b', capacity: 1, jobs: 1, rate: 1, shedding: false, rateCap: null }];
    expect(pickShed(owned, 2, 1, full)).toEqual([]);
    expect(pickShed(owned, 2, 1, [])).toEqual([]);
  });
});

describe('JobView', () => {
  function setup() {
    const clock = new FakeClock();
    const keys = new Keys('t');
    const mirror = new Mirror(keys, clock, silentLogger);
    mirror.replace([kv(keys.jobset('js1'), { v: 1, jobs: { a: raw('a'), b: raw('b') }, rate: 2 }, 5)], 5);
    let normalized = 0;
    const view = new JobView(
      mirror,
      (r) => {
        normalized++;
        return fakeNormalize(r);
      },
      silentLogger,
      () => clock.now(),
    );
    const seen: Array<ReadonlyMap<string, OwnedJob>> = [];
    view.onChange((jobs) => seen.push(jobs));
    return { view, seen, normalized: () => normalized, clock };
  }

  it('hands the jobs of owned jobsets to the listeners only when they change, normalising once', () => {
    const { view, seen, normalized } = setup();
    const owned = new Map([['js1', { token: 5, takenOver: true, dueSince: 42, announced: false }]]);
    expect(view.update(owned)).toBe(true);
    expect([...(seen[0]?.keys() ?? [])].sort()).toEqual(['a', 'b']);
    expect(seen[0]?.get('a')).toMatchObject({ takenOver: true, dueSince: 42 });
    expect(view.jobsetOf('a')).toBe('js1');
    expect(view.jobCount()).toBe(2);
    expect(view.update(owned)).toBe(false);
    expect(seen).toHaveLength(1);
    expect(normalized()).toBe(2);
    expect(view.update(new Map())).toBe(true);
    expect(seen[1]?.size).toBe(0);
    expect(view.jobsetOf('a')).toBeUndefined();
  });

  /** `count` jobsets of `per` jobs each (j<i>-<k>), at revisions 1.. */
  function many(count: number, per: number) {
    const clock = new FakeClock();
    const keys = new Keys('t');
    const mirror = new Mirror(keys, clock, silentLogger);
    const value = (j: number, names = Array.from({ length: per }, (_, k) => `j${j}-${k}`)) => ({
      v: 1,
      jobs: Object.fromEntries(names.map((n) => [n, raw(n)])),
      rate: names.length,
    });
    mirror.replace(
      Array.from({ length: count }, (_, j) => kv(keys.jobset(`js${j}`), value(j), j + 1)),
      count,
    );
    const view = new JobView(mirror, fakeNormalize, silentLogger, () => clock.now());
    return { clock, keys, mirror, view, value };
  }

  it('emits exactly the jobs of the owned jobsets through claims, losses, value changes and a job moved between jobsets', () => {
    const { clock, keys, mirror, view, value } = many(6, 3);
    const own = (dueSince: number) => ({ token: 1, takenOver: true, dueSince, announced: false });
    const owned = new Map([
      ['js0', own(10)],
      ['js1', own(11)],
    ]);
    const expectOwned = () => {
      const want = new Map<string, string>();
      for (const jsid of owned.keys())
        for (const name of Object.keys(mirror.jobsets.get(jsid)?.value.jobs ?? {})) want.set(name, jsid);
      expect([...view.current().keys()].sort()).toEqual([...want.keys()].sort());
      for (const [name, jsid] of want) expect(view.jobsetOf(name)).toBe(jsid);
    };
    expect(view.update(owned)).toBe(true);
    expectOwned();
    expect(view.current().get('j1-0')).toMatchObject({ takenOver: true, dueSince: 11 });
    // a claim adds one jobset; the others' jobs are the same objects as before
    const before = view.current().get('j0-0');
    owned.set('js2', own(12));
    expect(view.update(owned)).toBe(true);
    expectOwned();
    expect(view.current().get('j0-0')).toBe(before);
    // the admin moves j3-0 into js2 (one put), then out of js3 (another): in two owned jobsets meanwhile
    owned.set('js3', own(13));
    view.update(owned);
    clock.advance(100);
    mirror.apply(
      [{ type: 'put', kv: kv(keys.jobset('js2'), value(2, ['j2-0', 'j2-1', 'j2-2', 'j3-0']), 20) }],
      20,
    );
    view.update(owned);
    expect(view.current().has('j3-0')).toBe(true);
    mirror.apply([{ type: 'put', kv: kv(keys.jobset('js3'), value(3, ['j3-1', 'j3-2']), 21) }], 21);
    expect(view.update(owned)).toBe(false); // the same jobs run; only which jobset holds j3-0 changed
    expect(view.jobsetOf('j3-0')).toBe('js2');
    expectOwned();
    // a jobset lost, another's value removes a job
    owned.delete('js0');
    mirror.apply([{ type: 'put', kv: kv(keys.jobset('js1'), value(1, ['j1-0']), 22) }], 22);
    expect(view.update(owned)).toBe(true);
    expectOwned();
    expect(view.jobsetOf('j0-0')).toBeUndefined();
    // a job that stayed owned keeps its catch-up context
    expect(view.current().get('j1-0')).toMatchObject({ takenOver: true, dueSince: 11 });
    expect(view.update(new Map())).toBe(true);
    expect(view.current().size).toBe(0);
  });
});

describe('AdminElection', () => {
  function scripted(succeeded: boolean) {
    const txns: Array<{ compare: unknown[]; success: unknown[] }> = [];
    const rpc = {
      txn: async (compare: unknown[], success: unknown[]) => {
        txns.push({ compare, success });
        return { succeeded, rev: 9, responses: [], retried: false };
      },
    } as unknown as EtcdRpc;
    const clock = new FakeClock();
    const ctx = ctxOf(clock);
    ctx.state.rpc = rpc;
    ctx.state.phase = 'running';
    ctx.state.session = { leaseId: '77', valid: () => true } as unknown as Session;
    const mirror = new Mirror(ctx.keys, clock, silentLogger);
    const election = new AdminElection(ctx, mirror);
    const events: string[] = [];
    election.events.on('elected', (t) => events.push(`elected ${t}`));
    election.events.on('dropped', (r) => events.push(`dropped ${r}`));
    election.events.on('settled', () => events.push('settled'));
    return { election, events, txns, clock, mirror, ctx };
  }

  it('campaigns at once as rank 0 with one txn on CreateRevision == 0; the revision is the token', async () => {
    const s = scripted(true);
    s.election.observe();
    s.clock.advance(0);
    await new Promise((r) => setImmediate(r));
    expect(s.txns).toHaveLength(1);
    expect(JSON.stringify(s.txns[0]?.compare)).toContain('"target":"Create"');
    expect(s.events).toEqual(['elected 9', 'settled']);
    expect(s.election.token()).toBe(9);
  });

  it('a lost campaign elects nobody; a changed admin key drops the role', async () => {
    const lost = scripted(false);
    lost.election.observe();
    lost.clock.advance(0);
    await new Promise((r) => setImmediate(r));
    expect(lost.events).toEqual(['settled']);
    expect(lost.election.token()).toBeNull();

    const won = scripted(true);
    won.election.observe();
    won.clock.advance(0);
    await new Promise((r) => setImmediate(r));
    won.mirror.replace([kv(won.ctx.keys.admin, { id: 'other', since: 1 }, 12, '5')], 12);
    won.election.observe();
    expect(won.events).toContain('dropped admin key changed');
    expect(won.election.token()).toBeNull();
  });

  it('adopts an admin key that is ours under our lease (a campaign whose answer was lost)', () => {
    const s = scripted(true);
    s.mirror.replace([kv(s.ctx.keys.admin, { id: 'me', since: 1 }, 4, '77')], 4);
    s.election.observe();
    expect(s.events).toEqual(['elected 4']);
    expect(s.txns).toHaveLength(0);
  });
});

describe('coordinator tuning checks', () => {
  it('names the option in a RangeError or TypeError instead of clamping', () => {
    expect(() => checkTuning({ claimStepMs: -1 })).toThrow(
      new RangeError('tuning.claimStepMs must be between 0 and Infinity, got -1'),
    );
    expect(() => checkTuning({ shedHeadroom: 1.5 })).toThrow(RangeError);
    expect(() => checkTuning({ shedHeadroom: 1.5 })).toThrow(/tuning\.shedHeadroom/);
    expect(() => checkTuning({ maxMovesPerRound: 0 })).toThrow(
      new RangeError('tuning.maxMovesPerRound must be an integer >= 1, got 0'),
    );
    expect(() => checkTuning({ callTimeoutMs: Number.NaN })).toThrow(
      new TypeError('tuning.callTimeoutMs must be a number, got NaN'),
    );
    expect(() => checkTuning({ rebalance: 'yes' as unknown as boolean })).toThrow(
      new TypeError('tuning.rebalance must be a boolean, got yes'),
    );
    expect(checkTuning({ maxMovesPerRound: null, joinGraceMs: 0 })).toMatchObject({ joinGraceMs: 0 });
  });
});

describe('StandaloneCoordinator', () => {
  it('owns every endpoint of the snapshot, keeps a broken file running, and may always run', () => {
    const c = new StandaloneCoordinator('w', '127.0.0.1:1', new FakeClock(), '1.2.3');
    const seen: Array<ReadonlyMap<string, OwnedJob>> = [];
    c.onOwnedChange((jobs) => seen.push(jobs));
    expect(c.ready()).toBe(false);
    c.setDesired(snapshot(['a', 'b']));
    expect([...(seen[0]?.keys() ?? [])]).toEqual(['a', 'b']);
    expect(c.ready()).toBe(true);
    expect(c.mayRun()).toBe(true);
    // the file breaks: its last good endpoints keep running
    const broken = snapshot([]);
    broken.files = [{ ...broken.files[0]!, ok: false }];
    c.setDesired(broken);
    expect([...(seen[1]?.keys() ?? [])]).toEqual(['a', 'b']);
    // removed: gone
    c.setDesired({ ...snapshot([]), files: [] });
    expect(seen[2]?.size).toBe(0);
  });

  it('status shows the lag p99 the engine reports', async () => {
    const c = new StandaloneCoordinator('w', '127.0.0.1:1', new FakeClock(), '1.2.3');
    expect(c.status().workers[0]?.lagP99Ms).toBeNull();
    c.reportLag(new Map(), 3, 42);
    expect(c.status().workers[0]).toMatchObject({ id: 'w', version: '1.2.3', lagP99Ms: 42 });
    expect(await c.loadAlertStates()).toEqual(new Map());
  });
});

describe('Registration (worker record publishing)', () => {
  it('publishes a changed record at most once per publishIntervalMs, and skips an unchanged one', async () => {
    const clock = new FakeClock();
    const ctx = ctxOf(clock);
    const puts: string[] = [];
    ctx.state.rpc = {
      txn: async (_c: unknown, success: Array<{ request_put?: { value: Buffer } }>) => {
        puts.push(String(success[0]?.request_put?.value));
        return { succeeded: true, rev: 1, responses: [], retried: false };
      },
    } as unknown as EtcdRpc;
    ctx.state.phase = 'running';
    ctx.state.session = { leaseId: '5', valid: () => true } as unknown as Session;
    let record = 'v1';
    const reg = new Registration(ctx, 't', () => record);
    const flush = () => new Promise((r) => setImmediate(r));
    reg.schedule();
    clock.advance(0);
    await flush();
    expect(puts).toHaveLength(1);
    reg.schedule();
    clock.advance(0);
    await flush();
    expect(puts).toHaveLength(1); // unchanged: nothing written
    record = 'v2';
    reg.schedule();
    clock.advance(DEFAULT_TUNING.publishIntervalMs - 1);
    await flush();
    expect(puts).toHaveLength(1); // not before the interval
    clock.advance(1);
    await flush();
    expect(puts).toHaveLength(2);
    record = 'v3';
    reg.soon(); // shedding changed: at once
    clock.advance(0);
    await flush();
    expect(puts).toHaveLength(3);
  });
});
