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
