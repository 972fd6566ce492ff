/**
 * The engine's view of what this worker owns: the jobs of the owned jobsets, normalised with this
 * worker's env (cached by the job's JSON and the jobset value's revision), each with its catch-up
 * context, handed to the `onOwnedChange` listeners whenever the set changes.
 */
import type { RawEndpoint } from '../../config/types.js';
import type { Endpoint } from '../../model/endpoint.js';
import type { Logger } from '../../model/logger.js';
import type { OwnedJob } from '../coordinator.js';
import { describeError } from './errors.js';
import type { Mirror } from './mirror.js';
import type { CatchUp, Ownership } from './ownership.js';
import { stableJson } from './packing.js';

type Listener = (jobs: ReadonlyMap<string, OwnedJob>) => void;

export class JobView {
  private readonly listeners: Listener[] = [];
  private emitted: ReadonlyMap<string, OwnedJob> = new Map();
  private readonly jobInfo = new Map<string, CatchUp>();
  private readonly jobsetOfJob = new Map<string, string>();
  private readonly normCache = new Map<string, { json: string; ep: Endpoint | null }>();
  /**
   * Per owned jobset: its jobs normalised (by the jobset value's revision) and handed on (by the
   * Ownership record). A claim burst wins jobsets one reply at a time; rebuilding only what changed
   * keeps each update O(jobsets) + O(jobs of the changed ones) (and one copy of the emitted map)
   * instead of O(all owned jobs).
   */
  private readonly jobsetCache = new Map<string, CacheEntry>();
  /** some job name is in two owned jobsets: patching cannot tell which one counts (see patch) */
  private duplicates = false;

  constructor(
    private readonly mirror: Mirror,
    private readonly normalize: (raw: RawEndpoint) => Endpoint | null,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  onChange(listener: Listener): void {
    this.listeners.push(listener);
    if (this.emitted.size > 0) listener(this.emitted);
  }

  /** The jobs last handed to the engine. */
  current(): ReadonlyMap<string, OwnedJob> {
    return this.emitted;
  }

  /** The owned jobset a job belongs to (as of the last update), including jobs that failed to normalise. */
  jobsetOf(name: string): string | undefined {
    return this.jobsetOfJob.get(name);
  }

  /** Jobs in the owned jobsets (also those invalid here). */
  jobCount(): number {
    return this.jobsetOfJob.size;
  }

  /** Recomputes the jobs of `owned`; true (and the listeners told) when they changed. */
  update(owned: Map<string, Ownership>): boolean {
    const now = this.now();
    const diffs: Diff[] = [];
    for (const [jsid, o] of owned) {
      const js = this.mirror.jobsets.get(jsid);
      const cached = this.jobsetCache.get(jsid);
      if (!js) {
        if (cached) {
          this.jobsetCache.delete(jsid);
          diffs.push({ jsid, old: cached, next: undefined });
        }
        continue;
      }
      if (cached && cached.modRev === js.modRev && cached.own === o) continue;
      const entries =
        cached && cached.modRev === js.modRev
          ? cached.entries
          : Object.values(js.value.jobs).map((raw) => ({ name: raw.name, ep: this.normalized(raw) }));
      const jobs: Array<[string, OwnedJob]> = [];
      for (const { name, ep } of entries) {
        if (!ep) continue;
        let info = this.jobInfo.get(name);
        if (!info) {
          info = o.announced
            ? { takenOver: false, dueSince: now }
            : { takenOver: o.takenOver, dueSince: o.dueSince };
          this.jobInfo.set(name, info);
        }
        jobs.push([name, { endpoint: ep, takenOver: info.takenOver, dueSince: info.dueSince }]);
      }
      o.announced = true;
      const entry = { modRev: js.modRev, own: o, entries, jobs };
      this.jobsetCache.set(jsid, entry);
      diffs.push({ jsid, old: cached, next: entry });
    }
    for (const [jsid, cached] of this.jobsetCache) {
      if (!owned.has(jsid)) {
        this.jobsetCache.delete(jsid);
        diffs.push({ jsid, old: cached, next: undefined });
      }
    }
    if (diffs.length === 0) return false;
    const next = this.duplicates ? this.rebuild() : this.patch(diffs);
    if (sameJobs(this.emitted, next, this.duplicates ? null : touchedNames(diffs))) return false;
    this.emitted = next;
    for (const l of this.listeners) {
      try {
        l(next);
      } catch (err) {
        this.log.error({ err: describeError(err) }, 'ownership listener failed');
      }
    }
    return true;
  }

  /**
   * The last emitted jobs with the changed jobsets' jobs replaced: O(jobs of the changed
   * jobsets) plus one copy of the map, where rebuilding walked every owned job per won claim or
   * handover. A job name in two owned jobsets at once (the admin moving it between jobsets, one
   * put at a time) falls back to rebuild(), which decides which one counts as before.
   */
  private patch(diffs: Diff[]): Map<string, OwnedJob> {
    const next = new Map(this.emitted);
    for (const { jsid, old } of diffs) {
      if (!old) continue;
      for (const { name } of old.entries) {
        if (this.jobsetOfJob.get(name) !== jsid) continue;
        this.jobsetOfJob.delete(name);
        next.delete(name);
      }
    }
    for (const { jsid, next: entry } of diffs) {
      if (!entry) continue;
      for (const { name } of entry.entries) {
        if (this.jobsetOfJob.has(name)) this.duplicates = true;
        this.jobsetOfJob.set(name, jsid);
      }
      for (const [name, job] of entry.jobs) next.set(name, job);
    }
    if (this.duplicates) return this.rebuild();
    for (const name of touchedNames(diffs)) this.forget(name, next);
    return next;
  }

  /** Every owned job from the cache (and whether a job name is in two owned jobsets). */
  private rebuild(): Map<string, OwnedJob> {
    const next = new Map<string, OwnedJob>();
    this.jobsetOfJob.clear();
    let entries = 0;
    for (const [jsid, c] of this.jobsetCache) {
      entries += c.entries.length;
      for (const { name } of c.entries) this.jobsetOfJob.set(name, jsid);
      for (const [name, job] of c.jobs) next.set(name, job);
    }
    this.duplicates = entries !== this.jobsetOfJob.size;
    for (const name of this.jobInfo.keys()) this.forget(name, next);
    for (const name of this.normCache.keys()) this.forget(name, next);
    return next;
  }

  /** Drops what is kept of `name` once it is no longer run here (or in no owned jobset). */
  private forget(name: string, next: ReadonlyMap<string, OwnedJob>): void {
    if (!next.has(name)) this.jobInfo.delete(name);
    if (!this.jobsetOfJob.has(name)) this.normCache.delete(name);
  }

  private normalized(raw: RawEndpoint): Endpoint | null {
    const json = stableJson(raw);
    const hit = this.normCache.get(raw.name);
    if (hit && hit.json === json) return hit.ep;
    let ep: Endpoint | null = null;
    try {
      ep = this.normalize(raw);
    } catch (err) {
      this.log.error({ endpoint: raw.name, err: describeError(err) }, 'cannot normalise job from etcd');
    }
    this.normCache.set(raw.name, { json, ep });
    return ep;
  }
}

interface CacheEntry {
  modRev: number;
  own: Ownership;
  entries: Array<{ name: string; ep: Endpoint | null }>;
  jobs: Array<[string, OwnedJob]>;
}

/** An owned jobset whose jobs changed: `old` what was handed on, `next` what is now (undefined: gone). */
interface Diff {
  jsid: string;
  old: CacheEntry | undefined;
  next: CacheEntry | undefined;
}

function touchedNames(diffs: Diff[]): Set<string> {
  const names = new Set<string>();
  for (const { old, next } of diffs) {
    for (const { name } of old?.entries ?? []) names.add(name);
    for (const { name } of next?.entries ?? []) names.add(name);
  }
  return names;
}

/** Same jobs in `a` and `b`; with `only`, the caller knows that no other name can differ. */
function sameJobs(
  a: ReadonlyMap<string, OwnedJob>,
  b: ReadonlyMap<string, OwnedJob>,
  only: Set<string> | null,
): boolean {
  if (a.size !== b.size) return false;
  for (const name of only ?? a.keys()) {
    const x = a.get(name);
    const y = b.get(name);
    if (x === y) continue;
    if (!x || !y || y.endpoint !== x.endpoint || y.takenOver !== x.takenOver || y.dueSince !== x.dueSince)
      return false;
  }
  return true;
}
