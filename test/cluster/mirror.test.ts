/**
 * The mirror and its sync, against the in-memory etcd (no etcd process): the initial listing, watch
 * events applied in revision order, the re-list after a compaction (and what changed in the gap).
 */
import { describe, expect, it } from 'vitest';
import { Mirror, type MirrorChange } from '../../src/cluster/etcd/mirror.js';
import { MirrorSync } from '../../src/cluster/etcd/mirror-sync.js';
import { DEFAULT_TUNING } from '../../src/cluster/etcd/options.js';
import { silentLogger } from '../../src/model/logger.js';
import { raw } from './etcd-helpers.js';
import { fakeCluster, settle } from './fake-etcd.js';

function setup() {
  const { clock, keys, ctx, etcd } = fakeCluster();
  const mirror = new Mirror(keys, clock, silentLogger);
  const sync = new MirrorSync(ctx, mirror);
  const changes: MirrorChange[] = [];
  sync.events.on('change', (c) => changes.push(c));
  return { clock, keys, ctx, etcd, mirror, sync, changes };
}

const jobset = (...names: string[]) => ({
  v: 1,
  jobs: Object.fromEntries(names.map((n) => [n, raw(n)])),
  rate: names.length,
});

describe('MirrorSync', () => {
  it('loads workers, jobsets, owners, moves and the admin at one revision', async () => {
    const s = setup();
    s.etcd.put(s.keys.worker('w1'), { id: 'w1', capacity: 10 }, '11');
    s.etcd.put(s.keys.jobset('js1'), jobset('a', 'b'));
    s.etcd.put(s.keys.owner('js1'), { owner: 'w1', since: 5 }, '11');
    s.etcd.put(s.keys.move('js1'), { to: 'w2', ownerRev: 4, at: 1 });
    s.etcd.put(s.keys.admin, { id: 'w1', since: 1 }, '11');
    s.etcd.put(s.keys.state('a'), { endpoint: 'a', state: 'UP' });
    s.etcd.put(s.keys.jobset('bad'), 'not json');
    expect(s.sync.listed).toBe(false);
    await s.sync.resync();
    expect(s.sync.listed).toBe(true);
    expect(s.mirror.rev).toBe(s.etcd.rev);
    expect([...s.mirror.workers.keys()]).toEqual(['w1']);
    expect(s.mirror.workers.get('w1')).toMatchObject({ lease: '11', value: { capacity: 10 } });
    expect(s.mirror.jobsets.get('js1')).toMatchObject({ count: 2, value: { rate: 2 } });
    expect(s.mirror.jobsets.has('bad')).toBe(false);
    expect(s.mirror.owners.get('js1')?.value.owner).toBe('w1');
    expect(s.mirror.moves.get('js1')?.value.to).toBe('w2');
    expect(s.mirror.admin?.value.id).toBe('w1');
    expect(s.changes).toHaveLength(1);
    expect(s.changes[0]?.resync).toBe(true);
    // nothing was freed by the first listing, so nobody catches up from a guessed expiry
    expect(s.mirror.freedAt.size).toBe(0);
  });

  it('applies watch events in revision order after the listing, and only those after it', async () => {
    const s = setup();
    s.etcd.put(s.keys.jobset('js1'), jobset('a'));
    await s.sync.resync();
    await settle();
    expect(s.etcd.openStreams()).toBe(1);
    s.changes.length = 0;
    s.etcd.put(s.keys.owner('js1'), { owner: 'w1' }, '11');
    s.etcd.put(s.keys.owner('js1'), { owner: 'w2' }, '12');
    s.etcd.put(s.keys.jobset('js2'), jobset('b', 'c'));
    s.etcd.del(s.keys.jobset('js1'));
    await settle();
    expect(s.mirror.owners.get('js1')).toMatchObject({ lease: '12', value: { owner: 'w2' } });
    expect([...s.mirror.jobsets.keys()]).toEqual(['js2']);
    expect(s.mirror.rev).toBe(s.etcd.rev);
    expect(s.changes.map((c) => [...c.owners, ...c.jobsets])).toEqual([['js1'], ['js1'], ['js2'], ['js1']]);
    // a jobset created while watching is fresh: its first claim is not a takeover
    expect(s.mirror.fresh.has('js2')).toBe(true);
  });

  it('an owner key deleted by a lease expiry frees the jobset and records when', async () => {
    const s = setup();
    s.etcd.put(s.keys.jobset('js1'), jobset('a'));
    s.etcd.put(s.keys.owner('js1'), { owner: 'w1' }, '11');
    await s.sync.resync();
    await settle();
    expect(s.mirror.isFree('js1')).toBe(false);
    s.clock.advance(1234);
    s.etcd.del(s.keys.owner('js1'));
    await settle();
    expect(s.mirror.isFree('js1')).toBe(true);
    expect(s.mirror.freedAt.get('js1')).toBe(s.clock.now());
    expect(s.mirror.waitingJobs()).toBe(1);
  });

  it('re-lists with backoff after a compaction, picking up what changed in the gap', async () => {
    const s = setup();
    s.etcd.put(s.keys.jobset('js1'), jobset('a'));
    s.etcd.put(s.keys.owner('js1'), { owner: 'w1' }, '11');
    await s.sync.resync();
    await settle();
    s.changes.length = 0;
    s.etcd.compact();
    await settle();
    expect(s.etcd.watchFailures).toBe(1);
    expect(s.etcd.openStreams()).toBe(0);
    // written while nobody watches: only a new listing can show them
    s.etcd.del(s.keys.owner('js1'));
    s.etcd.put(s.keys.jobset('js2'), jobset('b'));
    await settle();
    expect(s.changes).toHaveLength(0);
    expect(s.mirror.jobsets.has('js2')).toBe(false);
    s.clock.advance(250); // the first backoff is at most 250 ms
    await settle(10);
    expect(s.changes).toHaveLength(1);
    expect(s.changes[0]?.resync).toBe(true);
    expect(s.mirror.jobsets.has('js2')).toBe(true);
    expect(s.mirror.rev).toBe(s.etcd.rev);
    // the owner vanished in the gap: freed now, like a lease expiry seen live
    expect(s.mirror.freedAt.get('js1')).toBe(s.clock.now());
    expect(s.etcd.openStreams()).toBe(1);
    // and the new watch delivers again
    s.etcd.put(s.keys.owner('js2'), { owner: 'w3' }, '13');
    await settle();
    expect(s.mirror.owners.get('js2')?.value.owner).toBe('w3');
  });

  it('a re-list keeps the record of each unchanged jobset and reads changed ones anew', async () => {
    const s = setup();
    s.etcd.put(s.keys.jobset('js1'), jobset('a'));
    s.etcd.put(s.keys.jobset('js2'), jobset('b'));
    await s.sync.resync();
    await settle();
    const js1 = s.mirror.jobsets.get('js1');
    s.etcd.compact();
    await settle();
    s.etcd.put(s.keys.jobset('js2'), jobset('b', 'c'));
    s.clock.advance(250);
    await settle(10);
    expect(s.changes.at(-1)?.resync).toBe(true);
    expect(s.mirror.jobsets.get('js1')).toBe(js1);
    expect(s.mirror.jobsets.get('js2')).toMatchObject({ count: 2, rate: 2 });
    expect(Object.keys(s.mirror.jobsets.get('js2')?.value.jobs ?? {})).toEqual(['b', 'c']);
    expect(s.mirror.totals()).toEqual({ jobs: 3, rate: 3 });
  });

  it('does not re-list once the coordinator is no longer running', async () => {
    const s = setup();
    await s.sync.resync();
    await settle();
    s.changes.length = 0;
    s.etcd.compact();
    await settle();
    s.ctx.state.phase = 'recovering';
    s.clock.advance(DEFAULT_TUNING.maxBackoffMs);
    await settle();
    expect(s.changes).toHaveLength(0);
    expect(s.etcd.openStreams()).toBe(0);
  });
});

/** Builds watch events for Mirror.apply directly (no fake etcd): one revision per event. */
function eventsFor(keys: ReturnType<typeof fakeCluster>['keys']) {
  let rev = 1;
  const kv = (key: string, value: unknown, lease = '0') => ({
    key,
    value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    createRev: rev,
    modRev: rev++,
    version: 1,
    lease,
  });
  return {
    get rev() {
      return rev - 1;
    },
    put: (key: string, value: unknown, lease?: string) => ({
      type: 'put' as const,
      kv: kv(key, value, lease),
    }),
    del: (key: string) => ({ type: 'delete' as const, kv: kv(key, '') }),
    keys,
  };
}

/** What the mirror's indexes must say, by walking every record (the definition they stand for). */
function walked(m: Mirror) {
  const live = (id: string) => {
    const o = m.owners.get(id);
    return !!o && o.value.owner !== null;
  };
  const loads = new Map<string, { jobs: number; jobsets: number; rate: number }>();
  for (const id of m.workers.keys()) loads.set(id, { jobs: 0, jobsets: 0, rate: 0 });
  for (const [jsid, o] of m.owners) {
    const js = m.jobsets.get(jsid);
    if (o.value.owner === null || !js) continue;
    const l = loads.get(o.value.owner) ?? { jobs: 0, jobsets: 0, rate: 0 };
    l.jobs += js.count;
    l.jobsets += 1;
    l.rate += js.rate;
    loads.set(o.value.owner, l);
  }
  const free = [...m.jobsets.keys()].filter((id) => !live(id)).sort();
  let jobs = 0;
  let rate = 0;
  for (const js of m.jobsets.values()) {
    jobs += js.count;
    rate += js.rate;
  }
  return {
    loads,
    free,
    waiting: free.reduce((n, id) => n + (m.jobsets.get(id)?.count ?? 0), 0),
    jobs,
    rate,
    freeSince: [...m.jobsets.keys()].filter((id) => !live(id)).sort(),
    freedAtOk: [...m.freedAt.keys()].every((id) => m.jobsets.has(id) && !live(id)),
  };
}

describe('Mirror indexes', () => {
  it('free jobsets, loads per owner, totals and queue ages match a walk over every record after each event', () => {
    const { clock, keys } = fakeCluster();
    const m = new Mirror(keys, clock, silentLogger);
    const ev = eventsFor(keys);
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const ids = Array.from({ length: 30 }, (_, i) => `js${String(i).padStart(2, '0')}`);
    const workers = ['w1', 'w2', 'w3', 'w4'];
    m.replace(
      [
        ...workers.slice(0, 3).map((w) => ev.put(keys.worker(w), { id: w, capacity: null }, '1').kv),
        ...ids
          .slice(0, 20)
          .map(
            (id, i) =>
              ev.put(keys.jobset(id), jobset(...Array.from({ length: 1 + (i % 5) }, (_, k) => `${id}-${k}`)))
                .kv,
          ),
        ...ids.slice(0, 10).map((id, i) => ev.put(keys.owner(id), { owner: workers[i % 3] }, '1').kv),
      ],
      ev.rev,
    );
    for (let step = 0; step < 600; step++) {
      const id = ids[rnd(ids.length)] as string;
      const w = workers[rnd(workers.length)] as string;
      const events = [];
      for (let k = 0; k <= rnd(3); k++) {
        switch (rnd(7)) {
          case 0:
            events.push(
              ev.put(keys.jobset(id), jobset(...Array.from({ length: 1 + rnd(4) }, (_, j) => `${id}-${j}`))),
            );
            break;
          case 1:
            events.push(ev.del(keys.jobset(id)));
            break;
          case 2:
          case 3:
            events.push(ev.put(keys.owner(id), { owner: w, since: 1 }, '1'));
            break;
          case 4:
            events.push(ev.put(keys.owner(id), { owner: null, releasedAt: 1 }));
            break;
          case 5:
            events.push(ev.del(keys.owner(id)));
            break;
          default:
            events.push(
              rnd(2) ? ev.put(keys.worker(w), { id: w, capacity: null }, '1') : ev.del(keys.worker(w)),
            );
        }
      }
      clock.advance(10);
      m.apply(events, ev.rev);
      const want = walked(m);
      expect(m.loads()).toEqual(want.loads);
      expect(
        m
          .freeJobsets()
          .map((j) => j.id)
          .sort(),
      ).toEqual(want.free);
      expect(m.waitingJobs()).toBe(want.waiting);
      expect(m.totals()).toEqual({ jobs: want.jobs, rate: want.rate });
      expect([...m.freeSince.keys()].sort()).toEqual(want.freeSince);
      expect(want.freedAtOk).toBe(true);
      for (const id of m.freedPauseMarginMs.keys()) expect(m.freedAt.has(id)).toBe(true);
    }
  });

  it('a claim burst over 20,000 jobsets is linear: each watch event costs O(what it touched)', () => {
    // The coordinator reads the free jobsets, every owner's load and the waiting queue after each
    // watch batch; walking every jobset for each made a claim burst quadratic in the cluster size.
    const { clock, keys } = fakeCluster();
    const m = new Mirror(keys, clock, silentLogger);
    const ev = eventsFor(keys);
    const n = 20_000;
    const ids = Array.from({ length: n }, (_, i) => `js${i}`);
    const workers = Array.from({ length: 20 }, (_, i) => `w${i}`);
    m.replace(
      [
        ...workers.map((w) => ev.put(keys.worker(w), { id: w, capacity: null }, '1').kv),
        ...ids.map((id) => ev.put(keys.jobset(id), jobset(`${id}-a`, `${id}-b`)).kv),
      ],
      ev.rev,
    );
    // Counted, not timed: how often anything walks every jobset or every owner key.
    let walks = 0;
    for (const map of [m.jobsets, m.owners] as Map<string, unknown>[]) {
      for (const method of ['values', 'keys', 'entries', 'forEach', Symbol.iterator] as const) {
        const original = (map as unknown as Record<PropertyKey, (...a: unknown[]) => unknown>)[method]!;
        Object.defineProperty(map, method, {
          configurable: true,
          value: (...args: unknown[]) => {
            walks++;
            return original.apply(map, args);
          },
        });
      }
    }
    let waiting = 0;
    for (let i = 0; i < n; i++) {
      m.apply([ev.put(keys.owner(ids[i] as string), { owner: workers[i % 20] }, '1')], ev.rev);
      m.loads();
      waiting = m.waitingJobs();
      m.totals();
      if (i % 100 === 0) m.freeJobsets();
    }
    expect(waiting).toBe(0);
    expect(m.loads().get('w0')).toMatchObject({ jobsets: n / 20, jobs: n / 10 });
    // a walk per event (or per read) would be ≥ 20,000
    expect(walks).toBeLessThan(n / 100);
  });

  it('keeps a jobset value as text until it is read, then the same parsed value', () => {
    const { clock, keys } = fakeCluster();
    const m = new Mirror(keys, clock, silentLogger);
    const ev = eventsFor(keys);
    m.apply(
      [ev.put(keys.jobset('js1'), { ...jobset('a', 'b'), jobs: { ...jobset('a', 'b').jobs, bad: 3 } })],
      ev.rev,
    );
    const js = m.jobsets.get('js1');
    expect(js).toMatchObject({ count: 2, rate: 2 });
    expect(Object.keys(js?.value.jobs ?? {})).toEqual(['a', 'b']);
    expect(js?.value).toBe(js?.value);
    expect(js?.names).toEqual(['a', 'b']);
    // the names (status) can be read before the value, without it
    m.apply([ev.put(keys.jobset('js2'), jobset('x', 'y'))], ev.rev);
    expect(m.jobsets.get('js2')?.names).toEqual(['x', 'y']);
    expect(m.jobsets.get('js2')?.value.jobs.y).toEqual(raw('y'));
    expect(js?.value.jobs.a).toEqual(raw('a'));
  });
});
