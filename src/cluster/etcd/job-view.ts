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
   * keeps each update O(jobsets) + O(jobs of the changed ones) instead of O(all owned jobs).
   */
  private readonly jobsetCache = new Map<
    string,
    {
      modRev: number;
      own: Ownership;
      entries: Array<{ name: string; ep: Endpoint | null }>;
      jobs: Array<[string, OwnedJob]>;
    }
  >();

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
    let touched = false;
    for (const [jsid, o] of owned) {
      const js = this.mirror.jobsets.get(jsid);
      const cached = this.jobsetCache.get(jsid);
      if (!js) {
        if (cached) {
          this.jobsetCache.delete(jsid);
          touched = true;
        }
        continue;
      }
      if (cached && cached.modRev === js.modRev && cached.own === o) continue;
      touched = true;
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
      this.jobsetCache.set(jsid, { modRev: js.modRev, own: o, entries, jobs });
    }
    for (const id of this.jobsetCache.keys()) {
      if (!owned.has(id)) {
        this.jobsetCache.delete(id);
        touched = true;
      }
    }
    if (!touched) return false;
    const next = new Map<string, OwnedJob>();
    this.jobsetOfJob.clear();
    for (const [jsid, c] of this.jobsetCache) {
      for (const { name } of c.entries) this.jobsetOfJob.set(name, jsid);
      for (const [name, job] of c.jobs) next.set(name, job);
    }
    for (const name of this.jobInfo.keys()) if (!next.has(name)) this.jobInfo.delete(name);
    for (const name of this.normCache.keys()) if (!this.jobsetOfJob.has(name)) this.normCache.delete(name);
    if (sameJobs(this.emitted, next)) return false;
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

function sameJobs(a: ReadonlyMap<string, OwnedJob>, b: ReadonlyMap<string, OwnedJob>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, x] of a) {
    const y = b.get(name);
    if (!y || y.endpoint !== x.endpoint || y.takenOver !== x.takenOver || y.dueSince !== x.dueSince)
      return false;
  }
  return true;
}
