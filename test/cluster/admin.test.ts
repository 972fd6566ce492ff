/**
 * The admin duties against the in-memory etcd (no etcd process; the mirror follows it through
 * MirrorSync): reconcile of the desired config into packed jobsets (raw definitions, written once),
 * the fence on the admin key's create revision, write refusals backed off, the scaling-limit
 * episode, stale-move cleanup and rebalancing moves, and the role dropped when fenced.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdminDuties, type AdminTuning, type ScalingEvent } from '../../src/cluster/etcd/admin.js';
import { AdminRole } from '../../src/cluster/etcd/admin-role.js';
import type { Compare, Op } from '../../src/cluster/etcd/client.js';
import type { WriteRefusal } from '../../src/cluster/etcd/errors.js';
import { Mirror } from '../../src/cluster/etcd/mirror.js';
import { MirrorSync } from '../../src/cluster/etcd/mirror-sync.js';
import type { ClusterMetrics } from '../../src/cluster/etcd/options.js';
import { DEFAULT_TUNING } from '../../src/cluster/etcd/options.js';
import { stableJson } from '../../src/cluster/etcd/packing.js';
import type { Session } from '../../src/cluster/etcd/session.js';
import { loadDir } from '../../src/config/index.js';
import type { ConfigSnapshot } from '../../src/config/types.js';
import { silentLogger } from '../../src/model/logger.js';
import { raw, snapshot } from './etcd-helpers.js';
import { fakeCluster, settle } from './fake-etcd.js';

const LEASE = '77';
/** a `${VAR}` reference as written in the file: the admin stores it unexpanded */
// biome-ignore lint/suspicious/noTemplateCurlyInString: the literal text is the point
const UNEXPANDED = 'https://${HOST}/health';

async function setup(tuning: Partial<AdminTuning> = {}) {
  const { clock, keys, ctx, etcd } = fakeCluster();
  const token = etcd.put(keys.admin, { id: 'me', since: 1 }, LEASE);
  const mirror = new Mirror(keys, clock, silentLogger);
  const sync = new MirrorSync(ctx, mirror);
  let desired: ConfigSnapshot | null = null;
  const fenced: number[] = [];
  const scaling: ScalingEvent[] = [];
  const refused: WriteRefusal['cause'][] = [];
  const errors: WriteRefusal['cause'][] = [];
  let accepted = 0;
  const duties = new AdminDuties({
    rpc: etcd.rpc(),
    keys,
    mirror,
    me: 'me',
    token,
    clock,
    logger: silentLogger,
    desired: () => desired,
    tuning: { ...DEFAULT_TUNING, rebalance: false, ...tuning },
    onFenced: () => fenced.push(clock.now()),
    onScaling: (e) => scaling.push(e),
    onWriteRefused: (r) => refused.push(r.cause),
    onWriteError: (r) => errors.push(r.cause),
    onWritesAccepted: () => accepted++,
  });
  sync.events.on('change', () => duties.onMirror());
  await sync.resync();
  await settle();
  const s = {
    clock,
    keys,
    ctx,
    etcd,
    mirror,
    duties,
    token,
    fenced,
    scaling,
    refused,
    errors,
    accepted: () => accepted,
    /** sets the desired snapshot and tells the duties */
    desire(snap: ConfigSnapshot) {
      desired = snap;
      duties.onDesired();
    },
    /** moves time on in small steps, letting the async rounds and the watch run in between */
    async elapse(ms: number, step = 50) {
      for (let t = 0; t < ms; t += step) {
        clock.advance(Math.min(step, ms - t));
        await settle();
      }
    },
    /** the txns that succeeded and wrote something */
    writes() {
      return etcd.txns.filter((t) => t.succeeded && t.success.some(isWrite));
    },
    /** the jobsets in etcd: id → job names */
    jobsets(): Map<string, string[]> {
      const out = new Map<string, string[]>();
      for (const [key, kv] of etcd.kvs) {
        const k = keys.parse(key);
        if (k?.kind === 'jobset') out.set(k.id, Object.keys(JSON.parse(kv.value.toString()).jobs).sort());
      }
      return out;
    },
  };
  return s;
}

type Setup = Awaited<ReturnType<typeof setup>>;

const isWrite = (o: Op): boolean => !!(o.request_put || o.request_delete_range);
const opKeys = (ops: Op[]): string[] =>
  ops.map((o) => (o.request_put?.key ?? o.request_delete_range?.key)?.toString() ?? '');
const adminFence = (s: Setup, compare: Compare[]): boolean =>
  compare.some(
    (c) =>
      c.key?.toString() === s.keys.admin && c.target === 'Create' && Number(c.create_revision) === s.token,
  );

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `ep${String(i).padStart(2, '0')}`);

/** Another worker becomes admin: the key is deleted (lease gone) and created again, a new create revision. */
function otherAdmin(s: Setup): void {
  s.etcd.del(s.keys.admin);
  s.etcd.put(s.keys.admin, { id: 'other', since: 2 }, '88');
}

/** Starts the duties and lets the first reconcile of `snap` land. */
async function reconciled(s: Setup, snap: ConfigSnapshot): Promise<void> {
  s.desire(snap);
  s.duties.start();
  await s.elapse(200);
}

const worker = (id: string, extra: Record<string, unknown> = {}) => ({ id, capacity: null, ...extra });

describe('AdminDuties: reconcile', () => {
  it('writes the packed jobsets with the raw definitions, fenced, and nothing when run again unchanged', async () => {
    const s = await setup();
    const snap = snapshot(names(40), (n) => (n === 'ep07' ? { url: UNEXPANDED } : {}));
    await reconciled(s, snap);
    const writes = s.writes();
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.every((t) => adminFence(s, t.compare))).toBe(true);
    // 40 jobs → 2 per jobset (targetJobsetSize), every job exactly once
    const sets = s.jobsets();
    expect(sets.size).toBe(20);
    expect([...sets.values()].flat().sort()).toEqual(names(40));
    const holder = [...sets].find(([, jobs]) => jobs.includes('ep07'))![0];
    const value = s.etcd.value(s.keys.jobset(holder)) as { jobs: Record<string, unknown>; rate: number };
    expect(value.jobs.ep07).toEqual(raw('ep07', { url: UNEXPANDED }));
    expect(value.rate).toBe(2); // two jobs every 1 s

    const count = s.etcd.txns.length;
    s.desire(snapshot(names(40), (n) => (n === 'ep07' ? { url: UNEXPANDED } : {})));
    await s.elapse(500);
    expect(s.etcd.txns.length).toBe(count);
    expect(s.jobsets()).toEqual(sets);
  });

  it('a changed endpoint rewrites only its jobset', async () => {
    const s = await setup();
    await reconciled(s, snapshot(names(40)));
    const before = s.jobsets();
    const holder = [...before].find(([, jobs]) => jobs.includes('ep13'))![0];
    const count = s.writes().length;
    s.desire(snapshot(names(40), (n) => (n === 'ep13' ? { interval: '5s' } : {})));
    await s.elapse(300);
    const now = s.writes().slice(count);
    expect(now).toHaveLength(1);
    expect(opKeys(now[0]!.success)).toEqual([s.keys.jobset(holder)]);
    expect(s.jobsets()).toEqual(before);
    const value = s.etcd.value(s.keys.jobset(holder)) as { jobs: Record<string, { spec: unknown }> };
    expect(value.jobs.ep13?.spec).toEqual({ interval: '5s' });
  });

  it('a removed endpoint leaves its jobset and its state; an emptied jobset goes with its owner and move keys', async () => {
    const s = await setup();
    await reconciled(s, snapshot(names(40)));
    const before = s.jobsets();
    const [pairId, pair] = [...before].find(([, jobs]) => jobs.length === 2)!;
    const [gone, stays] = pair as [string, string];
    s.etcd.put(s.keys.state(gone), { endpoint: gone, state: 'UP' });
    const count = s.writes().length;
    s.desire(snapshot(names(40).filter((n) => n !== gone)));
    await s.elapse(300);
    const now = s.writes().slice(count);
    expect(now).toHaveLength(1);
    expect(opKeys(now[0]!.success).sort()).toEqual([s.keys.jobset(pairId), s.keys.state(gone)].sort());
    expect(s.jobsets().get(pairId)).toEqual([stays]);
    expect(s.etcd.kvs.has(s.keys.state(gone))).toBe(false);

    // the last job of that jobset goes too: the jobset, its owner and its move are deleted
    s.etcd.put(s.keys.owner(pairId), { owner: 'me', since: 1 }, LEASE);
    s.etcd.put(s.keys.move(pairId), { to: 'w2', ownerRev: 1, at: 1 });
    s.desire(snapshot(names(40).filter((n) => n !== gone && n !== stays)));
    await s.elapse(300);
    expect(s.jobsets().has(pairId)).toBe(false);
    expect(s.etcd.kvs.has(s.keys.owner(pairId))).toBe(false);
    expect(s.etcd.kvs.has(s.keys.move(pairId))).toBe(false);
    expect(s.jobsets().size).toBe(19);
  });

  it('keeps the jobs of a file with problems, and everything when the admin has no endpoint files', async () => {
    const s = await setup();
    await reconciled(s, snapshot(names(4)));
    const before = s.jobsets();
    const count = s.etcd.txns.length;
    // the file does not parse now: its endpoints are missing from the snapshot but kept in etcd
    const broken = snapshot([]);
    broken.files = [{ file: 'endpoints.d/a.yml', ok: false, endpoints: 0, checksum: 'y' }];
    s.desire(broken);
    await s.elapse(300);
    // no folder at all: the cluster's desired state is left as it is
    const none = snapshot([]);
    none.files = [];
    s.desire(none);
    await s.elapse(300);
    expect(s.etcd.txns.length).toBe(count);
    expect(s.jobsets()).toEqual(before);
    // an empty but good file: every job goes
    s.desire(snapshot([]));
    await s.elapse(300);
    expect(s.jobsets().size).toBe(0);
  });
});

describe('AdminDuties: the desired state of a cluster worker', () => {
  it('a folder loaded without its normalised endpoints reconciles to the same jobs and rates as the full one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'watcher-admin-lean-'));
    try {
      const lines = ['defaults:', '  interval: 10s'];
      for (let i = 0; i < 30; i++) {
        lines.push(`e${i}.example.com/health:`);
        if (i % 3 === 1) lines.push(`  interval: ${i + 1}s`);
        if (i % 3 === 2) lines.push('  cron_schedule: "*/5 * * * *"');
        if (i % 3 === 0) lines.push('  scheme: http');
      }
      writeFileSync(join(dir, 'a.yml'), `${lines.join('\n')}\n`);
      const values = async (snap: ConfigSnapshot) => {
        const s = await setup();
        await reconciled(s, snap);
        return [...s.etcd.kvs]
          .filter(([k]) => s.keys.parse(k)?.kind === 'jobset')
          .map(([, kv]) => {
            const v = JSON.parse(kv.value.toString()) as { jobs: unknown; rates: unknown; rate: number };
            return stableJson({ jobs: v.jobs, rates: v.rates, rate: v.rate });
          })
          .sort();
      };
      const full = await values(await loadDir(dir));
      const lean = await loadDir(dir, { keepEndpoints: false });
      expect(lean.endpoints).toEqual([]);
      expect(full).toHaveLength(30); // 30 jobs → 1 per jobset
      expect(await values(lean)).toEqual(full);
      // the rates come from each job's own schedule, not a default
      expect(full.some((v) => v.includes('"rate":0.5'))).toBe(true);
      expect(full.some((v) => v.includes('"rate":0.003333'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('AdminDuties: the admin fence', () => {
  it('after another worker became admin, a reconcile writes nothing, reports the fence once and stops', async () => {
    const s = await setup();
    await reconciled(s, snapshot(names(4)));
    const before = s.jobsets();
    otherAdmin(s);
    await settle();
    s.desire(snapshot(names(6)));
    await s.elapse(300);
    expect(s.fenced).toHaveLength(1);
    const last = s.etcd.txns.at(-1)!;
    expect(last.succeeded).toBe(false);
    expect(adminFence(s, last.compare)).toBe(true);
    expect(s.jobsets()).toEqual(before);
    // stopped: later snapshots and housekeeping send nothing at all
    const count = s.etcd.txns.length;
    s.desire(snapshot(names(8)));
    await s.elapse(3000, 100);
    expect(s.etcd.txns.length).toBe(count);
    expect(s.fenced).toHaveLength(1);
  });

  it('through the role: the fenced duties drop the admin role and report it', async () => {
    const { clock, keys, ctx, etcd } = fakeCluster();
    ctx.state.session = { leaseId: LEASE, valid: () => true } as unknown as Session;
    etcd.put(keys.worker('me'), worker('me'), LEASE);
    const mirror = new Mirror(keys, clock, silentLogger);
    const sync = new MirrorSync(ctx, mirror);
    let isAdmin = -1;
    const metrics = { isAdmin: { set: (v: number) => (isAdmin = v) } } as unknown as ClusterMetrics;
    const role = new AdminRole(ctx, mirror, metrics, undefined);
    const events: boolean[] = [];
    role.events.on('admin', (a) => events.push(a));
    await sync.resync();
    await settle();
    role.observe();
    clock.advance(0);
    await settle();
    expect(role.isAdmin()).toBe(true);
    expect(isAdmin).toBe(1);
    // another admin's key lands just before our next write (the mirror has not seen it yet)
    etcd.beforeTxn = () => {
      etcd.beforeTxn = null;
      etcd.del(keys.admin);
      etcd.put(keys.admin, { id: 'other', since: 2 }, '88');
    };
    role.setDesired(snapshot(names(4)));
    for (let i = 0; i < 10; i++) {
      clock.advance(50);
      await settle();
    }
    expect(events).toEqual([true, false]);
    expect(role.isAdmin()).toBe(false);
    expect(isAdmin).toBe(0);
    expect([...etcd.kvs.keys()].some((k) => keys.parse(k)?.kind === 'jobset')).toBe(false);
  });
});

describe('AdminDuties: write refusals', () => {
  const nospace = () => ({ error: new Error('etcdserver: mvcc: database space exceeded'), applied: false });

  it('a refused reconcile is reported once per episode and retried 1 s doubling to 10 s, never in a loop', async () => {
    const s = await setup();
    s.desire(snapshot(names(4)));
    for (let i = 0; i < 6; i++) s.etcd.failNext.push(nospace());
    s.duties.start();
    await s.elapse(100, 10);
    // the first attempt, after the start (0 ms)
    expect(s.etcd.failNext).toHaveLength(5);
    expect(s.refused).toEqual(['nospace']);
    expect(s.duties.writeRefusal).toBe('nospace');
    const attempts: number[] = [];
    const t0 = s.clock.monotonic();
    let left = s.etcd.failNext.length;
    for (let t = 0; t < 40_000 && s.jobsets().size === 0; t += 50) {
      s.clock.advance(50);
      await settle();
      if (s.etcd.failNext.length !== left || s.jobsets().size > 0) {
        left = s.etcd.failNext.length;
        attempts.push(s.clock.monotonic() - t0);
      }
    }
    // retries after 1, 2, 4, 8, 10 s (seen at the next 50 ms step), then the write that lands
    const gaps = attempts.map((a, i) => a - (attempts[i - 1] ?? 0));
    expect(gaps.slice(1)).toEqual([2000, 4000, 8000, 10_000, 10_000]);
    expect(attempts[0]).toBeGreaterThanOrEqual(900);
    expect(attempts[0]).toBeLessThanOrEqual(1000);
    expect(s.errors).toEqual(Array(6).fill('nospace'));
    expect(s.refused).toEqual(['nospace']);
    expect(s.accepted()).toBe(1);
    expect(s.duties.writeRefusal).toBeNull();
    expect(s.jobsets().size).toBe(4);
  });

  it('a network error is retried with the same backoff but is no refusal', async () => {
    const s = await setup();
    s.desire(snapshot(names(4)));
    s.etcd.failNext.push({ error: new Error('14 UNAVAILABLE: connection refused'), applied: false });
    s.duties.start();
    await s.elapse(100, 10);
    expect(s.etcd.failNext).toHaveLength(0);
    expect(s.jobsets().size).toBe(0);
    await s.elapse(800);
    expect(s.jobsets().size).toBe(0);
    await s.elapse(300);
    expect(s.jobsets().size).toBe(4);
    expect(s.errors).toEqual([]);
    expect(s.refused).toEqual([]);
    expect(s.accepted()).toBe(0);
  });
});

describe('AdminDuties: scaling limit', () => {
  it('is hit only after scalingLimitAfterMs of waiting jobs, written fenced, and resolved when they are claimed', async () => {
    const s = await setup({ scalingLimitAfterMs: 5000 });
    s.etcd.put(s.keys.worker('w1'), worker('w1', { capacity: 0 }), '11');
    const since = s.clock.now();
    await reconciled(s, snapshot(names(4)));
    expect(s.mirror.waitingJobs()).toBe(4);
    await s.elapse(4500);
    expect(s.scaling).toEqual([]);
    expect(s.etcd.kvs.has(s.keys.scaling)).toBe(false);
    await s.elapse(1000);
    expect(s.scaling).toEqual([{ active: true, waitingJobs: 4, stuckWorkers: [], since }]);
    expect(s.etcd.value(s.keys.scaling)).toMatchObject({ active: true, since, waitingJobs: 4, by: 'me' });
    const put = s.writes().find((t) => opKeys(t.success).includes(s.keys.scaling))!;
    expect(adminFence(s, put.compare)).toBe(true);
    // still waiting: no second hit
    await s.elapse(3000);
    expect(s.scaling).toHaveLength(1);
    // w1 gets room and claims both jobsets
    for (const id of s.jobsets().keys()) s.etcd.put(s.keys.owner(id), { owner: 'w1', since: 1 }, '11');
    await s.elapse(1500);
    expect(s.scaling).toHaveLength(2);
    expect(s.scaling[1]).toMatchObject({ active: false, waitingJobs: 0, stuckWorkers: [] });
    expect(s.etcd.value(s.keys.scaling)).toMatchObject({ active: false, by: 'me' });
  });

  it('an overloaded worker nobody can relieve counts from its overloadedSince; one with a helper does not', async () => {
    const s = await setup({ scalingLimitAfterMs: 5000 });
    const since = s.clock.now() - 10_000;
    s.etcd.put(s.keys.worker('w1'), worker('w1', { overloaded: true, overloadedSince: since }), '11');
    s.etcd.put(s.keys.worker('w2'), worker('w2', { capacity: 0 }), '12');
    for (const id of ['js1', 'js2']) {
      s.etcd.put(s.keys.jobset(id), { v: 1, jobs: { [`${id}-a`]: raw(`${id}-a`) }, rate: 1 });
      s.etcd.put(s.keys.owner(id), { owner: 'w1', since: 1 }, '11');
    }
    s.duties.start();
    await s.elapse(1100);
    expect(s.scaling).toEqual([{ active: true, waitingJobs: 0, stuckWorkers: ['w1'], since }]);
    // w2 gets room: w1 can be relieved, the episode is over
    s.etcd.put(s.keys.worker('w2'), worker('w2'), '12');
    await s.elapse(1100);
    expect(s.scaling.at(-1)).toMatchObject({ active: false, stuckWorkers: [] });
  });

  it('a new admin continues the episode it finds in etcd: no second hit, but the resolution', async () => {
    const s = await setup({ scalingLimitAfterMs: 0 });
    s.etcd.put(s.keys.scaling, { active: true, since: 5, waitingJobs: 3, stuckWorkers: [], by: 'old' });
    s.etcd.put(s.keys.jobset('js1'), { v: 1, jobs: { a: raw('a') }, rate: 1 });
    s.duties.start();
    await s.elapse(2500);
    expect(s.scaling).toEqual([]);
    expect(s.etcd.value(s.keys.scaling)).toMatchObject({ by: 'old' });
    s.etcd.put(s.keys.worker('w1'), worker('w1'), '11');
    s.etcd.put(s.keys.owner('js1'), { owner: 'w1', since: 1 }, '11');
    await s.elapse(1500);
    expect(s.scaling).toEqual([expect.objectContaining({ active: false })]);
    expect(s.etcd.value(s.keys.scaling)).toMatchObject({ active: false, by: 'me' });
  });
});

describe('AdminDuties: moves', () => {
  /** w1 owns js1..js4 (1 check/s each), w2 owns nothing; returns the owner revisions. */
  async function unbalanced(s: Setup): Promise<Map<string, number>> {
    s.etcd.put(s.keys.worker('w1'), worker('w1'), '11');
    s.etcd.put(s.keys.worker('w2'), worker('w2'), '12');
    const revs = new Map<string, number>();
    for (const id of ['js1', 'js2', 'js3', 'js4']) {
      s.etcd.put(s.keys.jobset(id), { v: 1, jobs: { [`${id}-a`]: raw(`${id}-a`) }, rate: 1 });
      revs.set(id, s.etcd.put(s.keys.owner(id), { owner: 'w1', since: 1 }, '11'));
    }
    await settle();
    return revs;
  }

  const movesIn = (s: Setup) =>
    [...s.etcd.kvs.keys()]
      .filter((k) => s.keys.parse(k)?.kind === 'move')
      .map((k) => ({ id: (s.keys.parse(k) as { id: string }).id, ...(s.etcd.value(k) as object) }));

  it('plans moves towards an even share, each fenced on the admin key, the owner revision and no move', async () => {
    const s = await setup({ rebalance: true });
    const revs = await unbalanced(s);
    s.duties.start();
    await s.elapse(1100);
    const moves = movesIn(s);
    // 4 vs 0 checks/s: two moves make it 2 vs 2 (and the round allows two)
    expect(moves).toHaveLength(2);
    for (const m of moves) expect(m).toMatchObject({ to: 'w2', ownerRev: revs.get(m.id) });
    const txns = s.writes().filter((t) => opKeys(t.success).some((k) => s.keys.parse(k)?.kind === 'move'));
    expect(txns).toHaveLength(2);
    for (const t of txns) {
      const id = (s.keys.parse(opKeys(t.success)[0]!) as { id: string }).id;
      expect(adminFence(s, t.compare)).toBe(true);
      const owner = t.compare.find((c) => c.key?.toString() === s.keys.owner(id));
      expect(owner?.target).toBe('Mod');
      expect(Number(owner?.mod_revision)).toBe(revs.get(id));
      const none = t.compare.find((c) => c.key?.toString() === s.keys.move(id));
      expect(none?.target).toBe('Create');
      expect(Number(none?.create_revision)).toBe(0);
    }
    // nothing more is planned while those moves are pending (the loads have not changed yet)
    await s.elapse(2100);
    expect(movesIn(s)).toHaveLength(2);
    // the owner hands over (move deleted, owner w2): balanced, nothing more is planned
    for (const m of moves) {
      s.etcd.del(s.keys.move(m.id));
      s.etcd.put(s.keys.owner(m.id), { owner: 'w2', since: 2, from: 'w1' }, '12');
    }
    const count = s.etcd.txns.length;
    await s.elapse(3000);
    expect(movesIn(s)).toHaveLength(0);
    expect(s.etcd.txns.length).toBe(count);
  });

  it('does not move a jobset back during the cooldown, and looks again when it ends in a quiet cluster', async () => {
    const s = await setup({ rebalance: true, moveCooldownMs: 5000 });
    s.etcd.put(s.keys.worker('w1'), worker('w1'), '11');
    s.etcd.put(s.keys.worker('w2'), worker('w2'), '12');
    for (const id of ['js1', 'js2']) {
      s.etcd.put(s.keys.jobset(id), { v: 1, jobs: { [`${id}-a`]: raw(`${id}-a`) }, rate: 1 });
      s.etcd.put(s.keys.owner(id), { owner: 'w1', since: 1 }, '11');
    }
    s.duties.start();
    await s.elapse(1100);
    const [first] = movesIn(s);
    expect(first).toMatchObject({ to: 'w2' });
    const moved = first!.id;
    s.etcd.del(s.keys.move(moved));
    s.etcd.put(s.keys.owner(moved), { owner: 'w2', since: 2, from: 'w1' }, '12');
    // w2 takes on more: 1 vs 3 checks/s; only the jobset that just came from w1 would fit the gap
    s.etcd.put(s.keys.jobset('js3'), { v: 1, jobs: { b: raw('b') }, rate: 2 });
    s.etcd.put(s.keys.owner('js3'), { owner: 'w2', since: 2 }, '12');
    await s.elapse(3000);
    expect(movesIn(s)).toHaveLength(0);
    // the cooldown ends: nothing else changes, yet the admin looks again and moves it back
    const movedAt = (first as unknown as { at: number }).at;
    expect(movedAt + 5000 - s.clock.now()).toBeGreaterThan(500);
    await s.elapse(movedAt + 5000 - s.clock.now() - 100);
    expect(movesIn(s)).toHaveLength(0);
    await s.elapse(200);
    expect(movesIn(s)).toEqual([expect.objectContaining({ id: moved, to: 'w1' })]);
  });

  it('plans no move while a claimable jobset waits', async () => {
    const s = await setup({ rebalance: true });
    await unbalanced(s);
    s.etcd.put(s.keys.jobset('js5'), { v: 1, jobs: { b: raw('b') }, rate: 1 });
    s.duties.start();
    await s.elapse(2100);
    expect(movesIn(s)).toHaveLength(0);
  });

  it('a move whose owner changed just before it is lost, not fenced; another admin fences it', async () => {
    const s = await setup({ rebalance: true, maxMovesPerRound: 1 });
    await unbalanced(s);
    s.etcd.beforeTxn = () => {
      s.etcd.beforeTxn = null;
      for (const id of ['js1', 'js2', 'js3', 'js4'])
        s.etcd.put(s.keys.owner(id), { owner: 'w1', since: 3 }, '11');
    };
    s.duties.start();
    await s.elapse(1100);
    expect(movesIn(s)).toHaveLength(0);
    expect(s.fenced).toHaveLength(0);
    // next round: another admin's key lands just before the move
    s.etcd.beforeTxn = () => {
      s.etcd.beforeTxn = null;
      otherAdmin(s);
    };
    await s.elapse(1100);
    expect(movesIn(s)).toHaveLength(0);
    expect(s.fenced).toHaveLength(1);
  });

  it('housekeeps at most once per rebalance interval however often the mirror changes', async () => {
    const s = await setup();
    s.duties.start();
    await s.elapse(1000);
    const cleanups = () =>
      s.writes().filter((t) => opKeys(t.success).includes(s.keys.owner('orphan'))).length;
    // an owner key without a jobset every 100 ms: each round deletes it, one write per round
    for (let i = 0; i < 50; i++) {
      s.etcd.put(s.keys.owner('orphan'), { owner: 'w1', since: 1 }, '11');
      await s.elapse(100);
    }
    expect(cleanups()).toBeGreaterThanOrEqual(4);
    expect(cleanups()).toBeLessThanOrEqual(6);
  });

  it('a wall clock stepped back an hour does not stall housekeeping (its schedule is monotonic)', async () => {
    const s = await setup();
    s.duties.start();
    await s.elapse(1100);
    s.clock.stepWall(-3_600_000);
    s.etcd.put(s.keys.owner('orphan'), { owner: 'w1', since: 1 }, '11');
    await s.elapse(5000);
    expect(s.etcd.kvs.has(s.keys.owner('orphan'))).toBe(false);
  });

  it('deletes stale moves and owner keys without a jobset, fenced', async () => {
    const s = await setup();
    const revs = await unbalanced(s);
    s.etcd.put(s.keys.move('js1'), { to: 'w2', ownerRev: revs.get('js1')! - 1, at: 1 }); // older owner
    s.etcd.put(s.keys.move('js2'), { to: 'gone', ownerRev: revs.get('js2'), at: 1 }); // no such worker
    s.etcd.put(s.keys.move('js3'), { to: 'w2', ownerRev: revs.get('js3'), at: 1 }); // still valid
    s.etcd.put(s.keys.owner('js9'), { owner: 'w1', since: 1 }, '11'); // no jobset
    s.duties.start();
    await s.elapse(1100);
    expect(movesIn(s).map((m) => m.id)).toEqual(['js3']);
    expect(s.etcd.kvs.has(s.keys.owner('js9'))).toBe(false);
    const cleanup = s.writes().at(-1)!;
    expect(adminFence(s, cleanup.compare)).toBe(true);
    expect(opKeys(cleanup.success).sort()).toEqual(
      [s.keys.move('js1'), s.keys.move('js2'), s.keys.owner('js9')].sort(),
    );
  });
});
