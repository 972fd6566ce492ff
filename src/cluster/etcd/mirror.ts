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
  type JobsetSummary,
  type JobsetValue,
  type MoveValue,
  type OwnerValue,
  parseAdmin,
  parseJobsetText,
  parseMove,
  parseOwner,
  parseWorker,
  summarizeJobset,
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
  /** the parsed value, parsed on first read (see jobsetRec) */
  readonly value: JobsetValue;
  /** jobs in it (valid entries) */
  count: number;
  /** expected checks per second of the whole jobset (value.rate) */
  rate: number;
  /** the value as etcd holds it */
  readonly text: string;
  /** the names of its jobs (status); kept without the specs when the value was not read */
  readonly names: string[];
  bytes: number;
  createRev: number;
  modRev: number;
}

/**
 * A jobset record that keeps its value as the text from etcd and parses it on the first read of
 * `value` (kept from then on). Every worker mirrors every jobset but reads the jobs only of those
 * it owns (and the admin for packing, `confirm` for a lookup); holding the parsed specs of every
 * jobset of the cluster was most of a worker's mirror memory.
 */
function jobsetRec(
  id: string,
  text: string,
  summary: JobsetSummary,
  kv: { createRev: number; modRev: number },
): JobsetRec {
  let parsed: JobsetValue | null = null;
  let names: string[] | null = null;
  const parse = (): JobsetValue => parseJobsetText(text) ?? { v: 1, jobs: {}, rates: {}, rate: summary.rate };
  return {
    id,
    get value(): JobsetValue {
      parsed ??= parse();
      return parsed;
    },
    get names(): string[] {
      names ??= Object.keys((parsed ?? parse()).jobs);
      return names;
    },
    text,
    count: summary.count,
    rate: summary.rate,
    bytes: text.length,
    createRev: kv.createRev,
    modRev: kv.modRev,
  };
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

/** Jobs and checks/s of every jobset together. */
export interface MirrorTotals {
  jobs: number;
  rate: number;
}

/**
 * Rates are summed in fixed point (nano-checks/s, integers): a sum kept up to date by adding and
 * subtracting is then exact and the same on every worker whatever order its events came in,
 * which the claim plan relies on (plan.ts).
 */
const RATE_UNITS = 1e9;
const rateUnits = (rate: number): number => Math.round(rate * RATE_UNITS);

/** What one existing jobset adds to the indexes: to its live owner's load, or to the waiting queue. */
interface Contribution {
  owner: string | null;
  jobs: number;
  units: number;
}

interface LoadUnits {
  jobs: number;
  jobsets: number;
  units: number;
}

/**
 * Besides the records, the mirror keeps indexes that each watch event updates for the keys it
 * touched: the jobsets without a live owner (and their jobs), the load of every live owner and
 * the cluster totals. Claiming, gauges and housekeeping read them after every watch batch; a walk
 * over every jobset each time made a claim burst quadratic in the cluster's size.
 */
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
  /** per existing jobset, what it adds to the indexes below */
  private readonly contributions = new Map<string, Contribution>();
  /** jobsets without a live owner */
  private readonly freeIds = new Set<string>();
  private waiting = 0;
  /** per live owner with at least one existing jobset */
  private readonly ownerLoads = new Map<string, LoadUnits>();
  private readonly total = { jobs: 0, units: 0 };
  /**
   * During replace(): the jobsets held before it. A re-list (every lease recovery) returns mostly
   * unchanged jobsets; one whose revision and text are the same keeps its record instead of being
   * parsed again (parsing every jobset of the cluster blocked the event loop for seconds).
   */
  private relisted: Map<string, JobsetRec> | null = null;
  /** jobset values of a coming listing parsed ahead by preparse(), by key (used once, if at the same revision) */
  private readonly preparsed = new Map<
    string,
    { modRev: number; text: string; summary: JobsetSummary | null }
  >();

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
    this.relisted = new Map(this.jobsets);
    this.workers.clear();
    this.jobsets.clear();
    this.owners.clear();
    this.moves.clear();
    this.admin = null;
    this.fresh.clear();
    this.contributions.clear();
    this.freeIds.clear();
    this.waiting = 0;
    this.ownerLoads.clear();
    this.total.jobs = 0;
    this.total.units = 0;
    const change = emptyChange();
    change.resync = true;
    for (const kv of kvs) this.put(kv, change, false);
    this.relisted = null;
    this.preparsed.clear();
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

  /**
   * Parses the jobset values of a listing before replace() takes it, giving the event loop back
   * every `sliceMs`: a listing of the whole cluster parsed in one go blocked it for seconds, long
   * enough to miss keepalives. replace() stays one synchronous step (no half-replaced mirror).
   */
  async preparse(kvs: KeyValue[], sliceMs = 20): Promise<void> {
    let since = performance.now();
    for (const kv of kvs) {
      const k = this.keys.parse(kv.key);
      if (k?.kind !== 'jobset') continue;
      const text = kv.value.toString('utf8');
      const before = this.jobsets.get(k.id);
      if (before && before.modRev === kv.modRev && before.text === text) continue;
      this.preparsed.set(kv.key, { modRev: kv.modRev, text, summary: summarizeJobset(text) });
      if (performance.now() - since > sliceMs) {
        await new Promise((r) => setImmediate(r));
        since = performance.now();
      }
    }
  }

  apply(events: WatchEvent[], rev: number): MirrorChange {
    const change = emptyChange();
    for (const e of events) {
      if (e.type === 'put') this.put(e.kv, change, true);
      else this.del(e.kv.key, change);
    }
    this.rev = Math.max(this.rev, rev);
    this.refreshFreeSince(new Set([...change.jobsets, ...change.owners]));
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

  /** Jobsets without a live owner. */
  freeJobsets(): JobsetRec[] {
    const out: JobsetRec[] = [];
    for (const id of this.freeIds) {
      const js = this.jobsets.get(id);
      if (js) out.push(js);
    }
    return out;
  }

  /** Jobs in jobsets without a live owner: the waiting queue. */
  waitingJobs(): number {
    return this.waiting;
  }

  /** Jobs and checks/s of all jobsets (the demand the autoscaling signals compare with). */
  totals(): MirrorTotals {
    return { jobs: this.total.jobs, rate: this.total.units / RATE_UNITS };
  }

  /** Owned work per live owner, from owners/ (precise, unlike the periodically published workers/ values). */
  loads(): Map<string, WorkerLoad> {
    const out = new Map<string, WorkerLoad>();
    const load = (l: LoadUnits | undefined): WorkerLoad =>
      l ? { jobs: l.jobs, jobsets: l.jobsets, rate: l.units / RATE_UNITS } : { jobs: 0, jobsets: 0, rate: 0 };
    for (const id of this.workers.keys()) out.set(id, load(this.ownerLoads.get(id)));
    for (const [owner, l] of this.ownerLoads) if (!out.has(owner)) out.set(owner, load(l));
    return out;
  }

  /** After the jobset or the owner key of `jsid` changed: move its contribution where it now belongs. */
  private reindex(jsid: string): void {
    const old = this.contributions.get(jsid);
    if (old) this.contribute(jsid, old, -1);
    const js = this.jobsets.get(jsid);
    if (!js) {
      this.contributions.delete(jsid);
      return;
    }
    const owner = this.owners.get(jsid)?.value.owner ?? null;
    const next = { owner, jobs: js.count, units: rateUnits(js.rate) };
    this.contributions.set(jsid, next);
    this.contribute(jsid, next, 1);
  }

  private contribute(jsid: string, c: Contribution, sign: 1 | -1): void {
    this.total.jobs += sign * c.jobs;
    this.total.units += sign * c.units;
    if (c.owner === null) {
      if (sign > 0) this.freeIds.add(jsid);
      else this.freeIds.delete(jsid);
      this.waiting += sign * c.jobs;
      return;
    }
    let l = this.ownerLoads.get(c.owner);
    if (!l) {
      l = { jobs: 0, jobsets: 0, units: 0 };
      this.ownerLoads.set(c.owner, l);
    }
    l.jobs += sign * c.jobs;
    l.jobsets += sign;
    l.units += sign * c.units;
    if (l.jobsets === 0) this.ownerLoads.delete(c.owner);
  }

  /** Queue ages and failover records of `ids` (all jobsets without an argument) after a change. */
  private refreshFreeSince(ids?: Iterable<string>): void {
    const now = this.clock.now();
    if (!ids) {
      for (const id of this.freeSince.keys()) if (!this.jobsets.has(id)) this.freeSince.delete(id);
      for (const id of this.freedAt.keys()) if (!this.jobsets.has(id)) this.refreshOne(id, now);
      for (const id of this.freedPauseMarginMs.keys()) if (!this.jobsets.has(id)) this.refreshOne(id, now);
    }
    for (const id of ids ?? this.jobsets.keys()) this.refreshOne(id, now);
  }

  private refreshOne(id: string, now: number): void {
    if (!this.jobsets.has(id) || this.hasLiveOwner(id)) {
      this.freeSince.delete(id);
      this.freedAt.delete(id);
    } else if (!this.freeSince.has(id)) this.freeSince.set(id, now);
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
        const pre = this.preparsed.get(kv.key);
        const ahead = pre && pre.modRev === kv.modRev ? pre : null;
        const text = ahead?.text ?? kv.value.toString('utf8');
        const before = this.relisted?.get(k.id);
        if (
          before &&
          before.modRev === kv.modRev &&
          before.createRev === kv.createRev &&
          before.text === text
        ) {
          this.jobsets.set(k.id, before);
          this.reindex(k.id);
          change.jobsets.add(k.id);
          return;
        }
        const summary = ahead ? ahead.summary : summarizeJobset(text);
        if (!summary) {
          this.bad(kv.key);
          return;
        }
        if (live && kv.version === 1 && !this.owners.has(k.id)) this.fresh.add(k.id);
        this.jobsets.set(k.id, jobsetRec(k.id, text, summary, kv));
        this.reindex(k.id);
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
        this.reindex(k.id);
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
        this.reindex(k.id);
        this.fresh.delete(k.id);
        change.jobsets.add(k.id);
        return;
      case 'owner': {
        const prev = this.owners.get(k.id);
        this.owners.delete(k.id);
        this.reindex(k.id);
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
