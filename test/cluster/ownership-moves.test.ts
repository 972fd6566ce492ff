/**
 * Claims, handovers, releases and the reclaim after a partition, against the in-memory etcd (no
 * etcd process; the mirror follows it through MirrorSync): the CAS claim won or lost, backup
 * claimers' delays, fenced releases with the release time from the dispatch horizon, the handover
 * the admin asked for, and giving up what another worker owns after a partition.
 */
import { describe, expect, it } from 'vitest';
import { AlertStateStore } from '../../src/cluster/etcd/alert-states.js';
import { BackupTimers, claimTxn } from '../../src/cluster/etcd/claims.js';
import type { OwnershipChange } from '../../src/cluster/etcd/holdings.js';
import { LoadState } from '../../src/cluster/etcd/load-state.js';
import { Mirror } from '../../src/cluster/etcd/mirror.js';
import { MirrorSync } from '../../src/cluster/etcd/mirror-sync.js';
import { DEFAULT_TUNING } from '../../src/cluster/etcd/options.js';
import { OwnedJobsets } from '../../src/cluster/etcd/owned-jobsets.js';
import type { Session } from '../../src/cluster/etcd/session.js';
import { FakeClock } from '../../src/model/clock.js';
import { silentLogger } from '../../src/model/logger.js';
import { raw } from './etcd-helpers.js';
import { fakeCluster, settle } from './fake-etcd.js';

const LEASE = '77';

const jobset = (rate: number, ...names: string[]) => ({
  v: 1,
  jobs: Object.fromEntries(names.map((n) => [n, raw(n)])),
  rate,
});

const session = (leaseId: string) => ({ leaseId, valid: () => true }) as unknown as Session;

async function setup(onPartition: 'continue' | 'pause' = 'continue') {
  const { clock, keys, ctx, etcd } = fakeCluster();
  ctx.state.session = session(LEASE);
  etcd.put(keys.worker('me'), { id: 'me' }, LEASE);
  const mirror = new Mirror(keys, clock, silentLogger);
  const sync = new MirrorSync(ctx, mirror);
  const load = new LoadState(ctx);
  let jobsets: OwnedJobsets | null = null;
  const alertStates = new AlertStateStore(ctx, {
    jobsetOf: (name) =>
      [...(jobsets?.owned.keys() ?? [])].find((id) => !!mirror.jobsets.get(id)?.value.jobs[name]),
    ownerToken: (jsid) => jobsets?.owned.get(jsid)?.token,
    jobsetHasJob: (jsid, name) => !!mirror.jobsets.get(jsid)?.value.jobs[name],
  });
  const owned = new OwnedJobsets(ctx, mirror, load, alertStates, {
    capacity: null,
    leaseTtlSec: 10,
    onPartition,
  });
  jobsets = owned;
  const changes: OwnershipChange[] = [];
  const claims: string[] = [];
  let jobsEvents = 0;
  owned.events.on('ownership', (c) => changes.push(c));
  owned.events.on('claim', (o) => claims.push(o));
  owned.events.on('jobs', () => jobsEvents++);
  await sync.resync();
  await settle();
  return {
    clock,
    keys,
    ctx,
    etcd,
    mirror,
    sync,
    owned,
    alertStates,
    changes,
    claims,
    jobs: () => jobsEvents,
  };
}

/**
 * Puts the jobsets ({id: job names}, rate 1 unless `rates` says otherwise) and owner keys of them
 * under our lease, and lets react() adopt them (as after a handover to us).
 */
async function owning(
  s: Awaited<ReturnType<typeof setup>>,
  jobsets: Record<string, string[]>,
  rates: Record<string, number> = {},
) {
  for (const [id, names] of Object.entries(jobsets))
    s.etcd.put(s.keys.jobset(id), jobset(rates[id] ?? 1, ...names));
  for (const id of Object.keys(jobsets)) s.etcd.put(s.keys.owner(id), { owner: 'me', since: 1 }, LEASE);
  await settle();
  s.owned.react(LEASE);
  expect([...s.owned.owned.keys()].sort()).toEqual(Object.keys(jobsets).sort());
  s.changes.length = 0;
}

/** We own js1 and the admin asks us to move it to w2 (under lease 88); returns our token. */
async function moveToW2(s: Awaited<ReturnType<typeof setup>>): Promise<number> {
  s.etcd.put(s.keys.worker('w2'), { id: 'w2' }, '88');
  await owning(s, { js1: ['a'] });
  const token = s.owned.owned.get('js1')!.token;
  s.etcd.put(s.keys.move('js1'), { to: 'w2', ownerRev: token, at: 1 });
  await settle();
  return token;
}

describe('claimTxn (the CAS claim)', () => {
  it('wins a free jobset under our lease: the revision is the fencing token', async () => {
    const s = await setup();
    s.etcd.put(s.keys.jobset('js1'), jobset(1, 'a'));
    const token = await claimTxn(s.etcd.rpc(), s.keys, 'me', s.clock, 'js1', 0, LEASE);
    const kv = s.etcd.kvs.get(s.keys.owner('js1'));
    expect(token).toBe(kv?.modRev);
    expect(kv?.lease).toBe(LEASE);
    expect(s.etcd.value(s.keys.owner('js1'))).toEqual({ owner: 'me', since: s.clock.now() });
  });

  it('loses when the owner key changed since it was read, and writes nothing', async () => {
    const s = await setup();
    s.etcd.put(s.keys.jobset('js1'), jobset(1, 'a'));
    const observed = s.etcd.put(s.keys.owner('js1'), { owner: null, releasedAt: 5 });
    s.etcd.put(s.keys.owner('js1'), { owner: 'other' }, '5');
    expect(await claimTxn(s.etcd.rpc(), s.keys, 'me', s.clock, 'js1', observed, LEASE)).toBeNull();
    expect(s.etcd.value(s.keys.owner('js1'))).toEqual({ owner: 'other' });
  });

  it('refuses a claim of a deleted jobset or from a worker whose record is not under the lease', async () => {
    const s = await setup();
    expect(await claimTxn(s.etcd.rpc(), s.keys, 'me', s.clock, 'gone', 0, LEASE)).toBeNull();
    s.etcd.put(s.keys.jobset('js1'), jobset(1, 'a'));
    expect(await claimTxn(s.etcd.rpc(), s.keys, 'me', s.clock, 'js1', 0, '999')).toBeNull();
    expect(s.etcd.kvs.has(s.keys.owner('js1'))).toBe(false);
  });

  it('after an error, reads back: applied → the token, not applied → the error', async () => {
    const s = await setup();
    s.etcd.put(s.keys.jobset('js1'), jobset(1, 'a'));
    s.etcd.put(s.keys.jobset('js2'), jobset(1, 'b'));
    s.etcd.failNext.push({ error: new Error('deadline exceeded'), applied: true });
    const token = await claimTxn(s.etcd.rpc(), s.keys, 'me', s.clock, 'js1', 0, LEASE);
    expect(token).toBe(s.etcd.kvs.get(s.keys.owner('js1'))?.modRev);
    s.etcd.failNext.push({ error: new Error('deadline exceeded'), applied: false });
    await expect(claimTxn(s.etcd.rpc(), s.keys, 'me', s.clock, 'js2', 0, LEASE)).rejects.toThrow(
      'deadline exceeded',
    );
    // someone else got it while our call failed: lost, not an error
    s.etcd.beforeTxn = () => {
      s.etcd.beforeTxn = null;
      s.etcd.put(s.keys.owner('js2'), { owner: 'other' }, '5');
    };
    s.etcd.failNext.push({ error: new Error('unavailable'), applied: false });
    expect(await claimTxn(s.etcd.rpc(), s.keys, 'me', s.clock, 'js2', 0, LEASE)).toBeNull();
  });
});

describe('BackupTimers', () => {
  it('fires once, not before rank × claimStepMs, within the jitter after it', () => {
    const clock = new FakeClock();
    const timers = new BackupTimers(clock, { claimStepMs: 100, claimJitterMs: 50 });
    const fired: string[] = [];
    timers.ensure('js1', 2, () => fired.push('js1'));
    timers.ensure('js1', 1, () => fired.push('again')); // already armed: kept as it is
    timers.ensure('js2', 1, () => fired.push('js2'));
    expect(timers.ids().sort()).toEqual(['js1', 'js2']);
    clock.advance(99);
    expect(fired).toEqual([]);
    clock.advance(51); // 150: js2 (100..150) is due
    expect(fired).toEqual(['js2']);
    timers.clear('js1');
    clock.advance(1000);
    expect(fired).toEqual(['js2']);
    expect(timers.ids()).toEqual([]);
  });
});

describe('claiming free jobsets (Claimer)', () => {
  it('rank 0 claims at once; the claim catches up from the release time', async () => {
    const s = await setup();
    s.etcd.put(s.keys.jobset('js1'), jobset(1, 'a'));
    s.etcd.put(s.keys.owner('js1'), { owner: null, releasedAt: 4242, by: 'old' });
    await settle();
    s.owned.evaluateFree();
    await settle();
    expect(s.claims).toEqual(['won']);
    expect(s.owned.owned.get('js1')).toMatchObject({
      token: s.etcd.kvs.get(s.keys.owner('js1'))?.modRev,
      takenOver: true,
      dueSince: 4242,
    });
    expect(s.changes).toEqual([{ acquired: ['js1'], lost: [], reason: 'claimed' }]);
  });

  it('a claim that another worker beat by one write is lost and owns nothing', async () => {
    const s = await setup();
    s.etcd.put(s.keys.jobset('js1'), jobset(1, 'a'));
    await settle();
    s.etcd.beforeTxn = () => {
      s.etcd.beforeTxn = null;
      s.etcd.put(s.keys.owner('js1'), { owner: 'other' }, '5');
    };
    s.owned.evaluateFree();
    await settle();
    expect(s.claims).toEqual(['lost']);
    expect(s.owned.owned.size).toBe(0);
    expect(s.etcd.value(s.keys.owner('js1'))).toEqual({ owner: 'other' });
  });

  it('claims nothing during the join grace, then claims when it ends', async () => {
    const s = await setup();
    s.etcd.put(s.keys.jobset('js1'), jobset(1, 'a'));
    await settle();
    const reacts: number[] = [];
    s.owned.events.on('react', () => reacts.push(s.clock.now()));
    s.owned.graceUntil(s.clock.now() + 300);
    s.owned.evaluateFree();
    await settle();
    expect(s.etcd.txns).toHaveLength(0);
    s.clock.advance(300);
    expect(reacts).toHaveLength(1);
    s.owned.evaluateFree();
    await settle();
    expect(s.claims).toEqual(['won']);
  });

  it('a backup claimer (rank 1) waits its delay, and does not claim what was taken meanwhile', async () => {
    const s = await setup();
    // this worker already runs 10 checks/s; the idle worker w2 is rank 0 for new work
    s.etcd.put(s.keys.worker('w2'), { id: 'w2' }, '88');
    await owning(s, { mine: ['m'] }, { mine: 10 });
    s.etcd.put(s.keys.jobset('js1'), jobset(1, 'a'));
    s.etcd.put(s.keys.jobset('js2'), jobset(1, 'b'));
    await settle();
    const before = s.etcd.txns.length;
    s.owned.evaluateFree();
    await settle();
    expect(s.etcd.txns.length).toBe(before); // no claim yet
    s.clock.advance(DEFAULT_TUNING.claimStepMs - 1);
    await settle();
    expect(s.etcd.txns.length).toBe(before);
    // w2 takes js1 before our delay ends; js2 it never claims
    s.etcd.put(s.keys.owner('js1'), { owner: 'w2' }, '88');
    await settle();
    s.clock.advance(DEFAULT_TUNING.claimJitterMs + 1);
    await settle();
    expect(s.etcd.txns.length).toBe(before + 1);
    expect(s.claims).toEqual(['won']);
    expect([...s.owned.owned.keys()].sort()).toEqual(['js2', 'mine']);
  });
});

describe('giving jobsets away (GiveAway)', () => {
  it('releases with owner = null, no lease, releasedAt just after the last dispatched slot', async () => {
    const s = await setup();
    await owning(s, { js1: ['a'], js2: ['b'] });
    const now = s.clock.now();
    s.owned.setDispatchHorizon(() => now - 3000.4);
    await s.owned.release(new Map(s.owned.owned));
    for (const id of ['js1', 'js2']) {
      expect(s.etcd.value(s.keys.owner(id))).toEqual({ owner: null, releasedAt: now - 3000, by: 'me' });
      expect(s.etcd.kvs.get(s.keys.owner(id))?.lease).toBe('0');
    }
  });

  it('the release time is never later than now, and now without a horizon', async () => {
    const s = await setup();
    await owning(s, { js1: ['a'] });
    expect(s.owned.handoffTime()).toBe(s.clock.now());
    s.owned.setDispatchHorizon(() => s.clock.now() + 60_000);
    expect(s.owned.handoffTime()).toBe(s.clock.now());
    s.owned.setDispatchHorizon(() => Number.NEGATIVE_INFINITY);
    expect(s.owned.handoffTime()).toBe(s.clock.now());
  });

  it('is fenced per jobset: one taken meanwhile is not overwritten, the others are released', async () => {
    const s = await setup();
    await owning(s, { js1: ['a'], js2: ['b'] });
    const held = new Map(s.owned.owned);
    s.etcd.put(s.keys.owner('js2'), { owner: 'thief' }, '5');
    await s.owned.release(held, true);
    expect(s.owned.owned.size).toBe(0);
    expect(s.etcd.value(s.keys.owner('js1'))).toMatchObject({ owner: null, by: 'me' });
    expect(s.etcd.value(s.keys.owner('js2'))).toEqual({ owner: 'thief' });
    // the group of two failed its compare, then each was tried alone
    expect(s.etcd.txns.slice(-3).map((t) => [t.compare.length, t.succeeded])).toEqual([
      [2, false],
      [1, true],
      [1, false],
    ]);
  });

  it('carries the pending alert states of released jobsets inside the fenced txn', async () => {
    const s = await setup();
    await owning(s, { js1: ['a'] });
    s.alertStates.save({
      endpoint: 'a',
      state: 'DOWN',
      consecutiveFailures: 3,
      consecutiveSuccesses: 0,
      since: 9,
      reason: 'timeout',
    });
    const txnsBefore = s.etcd.txns.length;
    await s.owned.release(new Map(s.owned.owned), true);
    expect(s.etcd.txns.length).toBe(txnsBefore + 1); // no separate state write
    expect(s.etcd.value(s.keys.state('a'))).toMatchObject({ endpoint: 'a', state: 'DOWN' });
  });

  it('hands a jobset over as the admin planned: stops running it first, then one fenced txn', async () => {
    const s = await setup();
    await moveToW2(s);
    const now = s.clock.now();
    s.owned.setDispatchHorizon(() => now - 500);
    let ownedAtTxn: boolean | null = null;
    s.etcd.beforeTxn = () => {
      s.etcd.beforeTxn = null;
      ownedAtTxn = s.owned.owned.has('js1');
    };
    const jobsBefore = s.jobs();
    s.owned.react(LEASE);
    await settle();
    expect(ownedAtTxn).toBe(false);
    expect(s.jobs()).toBeGreaterThan(jobsBefore);
    expect(s.etcd.value(s.keys.owner('js1'))).toEqual({ owner: 'w2', since: now - 499, from: 'me' });
    expect(s.etcd.kvs.get(s.keys.owner('js1'))?.lease).toBe('88');
    expect(s.etcd.kvs.has(s.keys.move('js1'))).toBe(false);
    expect(s.changes).toEqual([{ acquired: [], lost: ['js1'], reason: 'handed over to w2' }]);
    // the record of the handover (under w2's lease) is not adopted back by a later react()
    s.owned.react(LEASE);
    expect(s.owned.owned.has('js1')).toBe(false);
  });

  it('a round of moves leaves the engine in one update, before the first handover txn', async () => {
    const s = await setup();
    s.etcd.put(s.keys.worker('w2'), { id: 'w2' }, '88');
    await owning(s, { js1: ['a'], js2: ['b'], js3: ['c'] });
    for (const id of ['js1', 'js2'])
      s.etcd.put(s.keys.move(id), { to: 'w2', ownerRev: s.owned.owned.get(id)!.token, at: 1 });
    await settle();
    let ownedAtFirstTxn: string[] | null = null;
    s.etcd.beforeTxn = () => {
      s.etcd.beforeTxn = null;
      ownedAtFirstTxn = [...s.owned.owned.keys()];
    };
    const jobsBefore = s.jobs();
    s.owned.react(LEASE);
    expect(s.jobs()).toBe(jobsBefore + 1);
    await settle();
    expect(ownedAtFirstTxn).toEqual(['js3']);
    for (const id of ['js1', 'js2']) {
      expect(s.etcd.value(s.keys.owner(id))).toMatchObject({ owner: 'w2', from: 'me' });
      expect(s.etcd.kvs.has(s.keys.move(id))).toBe(false);
    }
    expect(s.changes.flatMap((c) => c.lost).sort()).toEqual(['js1', 'js2']);
  });

  it('a handover that fails its fence keeps the jobset and catches up from the handoff time', async () => {
    const s = await setup();
    const token = await moveToW2(s);
    // w2 restarted under another lease after the mirror saw it
    s.etcd.beforeTxn = () => {
      s.etcd.beforeTxn = null;
      s.etcd.put(s.keys.worker('w2'), { id: 'w2' }, '89');
    };
    s.owned.react(LEASE);
    await settle();
    expect(s.etcd.value(s.keys.owner('js1'))).toEqual({ owner: 'me', since: 1 });
    expect(s.owned.owned.get('js1')).toMatchObject({ token, takenOver: true, dueSince: s.clock.now() });
    expect(s.changes).toEqual([]);
  });
});

describe('after a partition (PartitionRecovery)', () => {
  it('gives up what another worker owns now and claims the rest back by CAS', async () => {
    const s = await setup('pause');
    await owning(s, { js1: ['a'], js2: ['b'], js3: ['c'] });
    const cutAt = s.clock.now();
    s.owned.suspend(cutAt);
    expect(s.owned.owned.size).toBe(0); // pause: stop running at once
    s.clock.advance(20_000);
    // meanwhile: our lease expired, w2 took js1, js3 was deleted by the admin; a new lease for us
    s.etcd.del(s.keys.owner('js1'));
    s.etcd.del(s.keys.owner('js2'));
    s.etcd.del(s.keys.owner('js3'));
    s.etcd.put(s.keys.owner('js1'), { owner: 'w2' }, '88');
    s.etcd.del(s.keys.jobset('js3'));
    s.etcd.put(s.keys.worker('me'), { id: 'me' }, '99');
    s.ctx.state.session = session('99');
    await s.sync.resync();
    await s.owned.reconcileAfterRecovery(session('99'));
    expect(s.changes).toEqual([
      { acquired: [], lost: ['js1', 'js3'], reason: 'owned by another worker after partition' },
      { acquired: ['js2'], lost: [], reason: 'reclaim after partition' },
    ]);
    expect([...s.owned.owned.keys()]).toEqual(['js2']);
    expect(s.owned.owned.get('js2')).toMatchObject({ takenOver: true, dueSince: cutAt });
    expect(s.etcd.kvs.get(s.keys.owner('js2'))?.lease).toBe('99');
    expect(s.etcd.value(s.keys.owner('js1'))).toEqual({ owner: 'w2' });
  });

  it('continue: keeps running what is still ours under the surviving lease', async () => {
    const s = await setup('continue');
    await owning(s, { js1: ['a'] });
    s.owned.suspend(s.clock.now());
    expect(s.owned.owned.has('js1')).toBe(true);
    await s.sync.resync();
    const txns = s.etcd.txns.length;
    await s.owned.reconcileAfterRecovery(session(LEASE));
    expect(s.etcd.txns.length).toBe(txns); // nothing to claim back
    expect(s.owned.owned.has('js1')).toBe(true);
    expect(s.changes).toEqual([]);
  });
});
