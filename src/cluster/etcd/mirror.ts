/**
 * A local, watch-fed copy of the cluster's coordination keys (everything but alert state).
 * Every worker decides from its mirror; every decision that writes is a CAS transaction, so a
 * stale mirror can cost a lost attempt, never a wrong owner.
 */
import type { Clock } from '../../model/clock.js';
import type { Logger } from '../../model/logger.js';
import type { KeyValue, WatchEvent } from './client.js';
import type { Keys } from './keys.js';
import {
  type AdminValue,
  type JobsetValue,
  type MoveValue,
  type OwnerValue,
  parseAdmin,
  parseJobset,
  parseMove,
  parseOwner,
  parseWorker,
  type WorkerValue,
} from './values.js';

export interface WorkerRec {
  value: WorkerValue;
  lease: string;
  createRev: number;
  modRev: number;
}

export interface JobsetRec {
  id: string;
  value: JobsetValue;
  count: number;
  bytes: number;
  createRev: number;
  modRev: number;
}

export interface OwnerRec {
  value: OwnerValue;
  lease: string;
  modRev: number;
}

export interface MoveRec {
  value: MoveValue;
  modRev: number;
}

export interface AdminRec {
  value: AdminValue;
  lease: string;
  createRev: number;
}

/** What a batch of changes touched, so the coordinator reacts only to what matters. */
export interface MirrorChange {
  workers: boolean;
  jobsets: Set<string>;
  owners: Set<string>;
  moves: boolean;
  admin: boolean;
  resync: boolean;
}

export function emptyChange(): MirrorChange {
  return { workers: false, jobsets: new Set(), owners: new Set(), moves: false, admin: false, resync: false };
}

export interface WorkerLoad {
  jobs: number;
  jobsets: number;
  rate: number;
}

export class Mirror {
  rev = 0;
  workers = new Map<string, WorkerRec>();
  jobsets = new Map<string, JobsetRec>();
  owners = new Map<string, OwnerRec>();
  moves = new Map<string, MoveRec>();
  admin: AdminRec | null = null;
  /** local time an owner key disappeared (lease expiry): failover catch-up starts before it */
  readonly freedAt = new Map<string, number>();
  /** for a jobset in freedAt whose owner ran `--on-partition pause`: its published pauseMarginMs */
  readonly freedPauseMarginMs = new Map<string, number>();
  /** last record seen of each worker id (a lease expiry deletes it in the same revision as its owner keys) */
  private readonly lastWorker = new Map<string, WorkerRec>();
  /** jobsets seen created while watching and never owned since: a claim is not a takeover */
  readonly fresh = new Set<string>();
  /** local time each jobset was first seen without a live owner (waiting queue age) */
  readonly freeSince = new Map<string, number>();

  constructor(
    private readonly keys: Keys,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** Replaces everything with a fresh listing at `rev` (initial list, reconnect, compaction). */
  replace(kvs: KeyValue[], rev: number): MirrorChange {
    const prevOwners = new Map(this.owners);
    const hadOwner = new Set([...this.owners].filter(([, o]) => o.value.owner !== null).map(([id]) => id));
    const initial = this.rev === 0;
    this.workers.clear();
    this.jobsets.clear();
    this.owners.clear();
    this.moves.clear();
    this.admin = null;
    this.fresh.clear();
    const change = emptyChange();
    change.resync = true;
    for (const kv of kvs) this.put(kv, change, false);
    this.rev = rev;
    const now = this.clock.now();
    for (const id of hadOwner)
      if (!this.hasLiveOwner(id) && this.jobsets.has(id)) this.freed(id, prevOwners.get(id), now);
    if (initial) {
      this.freedAt.clear();
      this.freedPauseMarginMs.clear();
    }
    this.refreshFreeSince();
    return change;
  }

  apply(events: WatchEvent[], rev: number): MirrorChange {
    const change = emptyChange();
    for (const e of events) {
      if (e.type === 'put') this.put(e.kv, change, true);
      else this.del(e.kv.key, change);
    }
    this.rev = Math.max(this.rev, rev);
    this.refreshFreeSince();
    return change;
  }

  hasLiveOwner(jsid: string): boolean {
    const o = this.owners.get(jsid);
    return !!o && o.value.owner !== null;
  }

  /** A jobset nobody owns: no owner key, or released. */
  isFree(jsid: string): boolean {
    return this.jobsets.has(jsid) && !this.hasLiveOwner(jsid);
  }

  freeJobsets(): JobsetRec[] {
    return [...this.jobsets.values()].filter((j) => !this.hasLiveOwner(j.id));
  }

  /** Jobs in jobsets without a live owner: the waiting queue. */
  waitingJobs(): number {
    let n = 0;
    for (const j of this.jobsets.values()) if (!this.hasLiveOwner(j.id)) n += j.count;
    return n;
  }

  /** Owned work per live owner, from owners/ (precise, unlike the periodically published workers/ values). */
  loads(): Map<string, WorkerLoad> {
    const out = new Map<string, WorkerLoad>();
    for (const id of this.workers.keys()) out.set(id, { jobs: 0, jobsets: 0, rate: 0 });
    for (const [jsid, o] of this.owners) {
      const owner = o.value.owner;
      const js = this.jobsets.get(jsid);
      if (owner === null || !js) continue;
      const l = out.get(owner) ?? { jobs: 0, jobsets: 0, rate: 0 };
      l.jobs += js.count;
      l.jobsets += 1;
      l.rate += js.value.rate;
      out.set(owner, l);
    }
    return out;
  }

  private refreshFreeSince(): void {
    const now = this.clock.now();
    for (const id of this.jobsets.keys()) {
      if (this.hasLiveOwner(id)) this.freeSince.delete(id);
      else if (!this.freeSince.has(id)) this.freeSince.set(id, now);
    }
    for (const id of this.freeSince.keys()) if (!this.jobsets.has(id)) this.freeSince.delete(id);
    for (const id of this.freedAt.keys())
      if (!this.jobsets.has(id) || this.hasLiveOwner(id)) this.freedAt.delete(id);
    for (const id of this.freedPauseMarginMs.keys())
      if (!this.freedAt.has(id)) this.freedPauseMarginMs.delete(id);
  }

  /** Records that `jsid` lost its owner `prev` (lease gone) at `at`, and how that owner behaves cut off. */
  private freed(jsid: string, prev: OwnerRec | undefined, at: number): void {
    this.freedAt.set(jsid, at);
    const w = prev?.value.owner ? this.lastWorker.get(prev.value.owner) : undefined;
    const margin = w && w.lease === prev?.lease ? w.value.pauseMarginMs : null;
    if (margin !== null && margin !== undefined) this.freedPauseMarginMs.set(jsid, margin);
    else this.freedPauseMarginMs.delete(jsid);
  }

  private put(kv: KeyValue, change: MirrorChange, live: boolean): void {
    const k = this.keys.parse(kv.key);
    if (!k) return;
    switch (k.kind) {
      case 'worker': {
        const value = parseWorker(kv.value);
        if (!value) {
          this.bad(kv.key);
          return;
        }
        const rec = { value, lease: kv.lease, createRev: kv.createRev, modRev: kv.modRev };
        this.workers.set(k.id, rec);
        this.lastWorker.set(k.id, rec);
        change.workers = true;
        return;
      }
      case 'jobset': {
        const value = parseJobset(kv.value);
        if (!value) {
          this.bad(kv.key);
          return;
        }
        if (live && kv.version === 1 && !this.owners.has(k.id)) this.fresh.add(k.id);
        this.jobsets.set(k.id, {
          id: k.id,
          value,
          count: Object.keys(value.jobs).length,
          bytes: kv.value.length,
          createRev: kv.createRev,
          modRev: kv.modRev,
        });
        change.jobsets.add(k.id);
        return;
      }
      case 'owner': {
        const value = parseOwner(kv.value);
        if (!value) {
          this.bad(kv.key);
          return;
        }
        this.owners.set(k.id, { value, lease: kv.lease, modRev: kv.modRev });
        if (value.owner !== null) this.fresh.delete(k.id);
        change.owners.add(k.id);
        return;
      }
      case 'move': {
        const value = parseMove(kv.value);
        if (!value) {
          this.bad(kv.key);
          return;
        }
        this.moves.set(k.id, { value, modRev: kv.modRev });
        change.moves = true;
        return;
      }
      case 'admin': {
        const value = parseAdmin(kv.value);
        if (!value) {
          this.bad(kv.key);
          return;
        }
        this.admin = { value, lease: kv.lease, createRev: kv.createRev };
        change.admin = true;
        return;
      }
      case 'state':
        return;
    }
  }

  private del(key: string, change: MirrorChange): void {
    const k = this.keys.parse(key);
    if (!k) return;
    switch (k.kind) {
      case 'worker':
        this.workers.delete(k.id);
        change.workers = true;
        return;
      case 'jobset':
        this.jobsets.delete(k.id);
        this.fresh.delete(k.id);
        change.jobsets.add(k.id);
        return;
      case 'owner': {
        const prev = this.owners.get(k.id);
        this.owners.delete(k.id);
        if (prev && prev.value.owner !== null) this.freed(k.id, prev, this.clock.now());
        change.owners.add(k.id);
        return;
      }
      case 'move':
        this.moves.delete(k.id);
        change.moves = true;
        return;
      case 'admin':
        this.admin = null;
        change.admin = true;
        return;
      case 'state':
        return;
    }
  }

  private bad(key: string): void {
    this.logger.warn({ key }, 'ignoring unparsable value in etcd');
  }
}
