/**
 * Ownership bookkeeping: what this worker records per owned jobset, where a new owner catches up
 * from, and the load/candidate views of the mirror that claiming and shedding plan with.
 */
import type { Mirror } from './mirror.js';
import { type Candidate, hasRoom } from './plan.js';

export interface Ownership {
  token: number;
  takenOver: boolean;
  dueSince: number;
  /** false until the first emission after acquisition */
  announced: boolean;
}

export interface CatchUp {
  takenOver: boolean;
  dueSince: number;
}

/** Where a claimer catches up from: released → its release time; lease expiry → one TTL before. */
export function catchUpFor(mirror: Mirror, jsid: string, leaseTtlSec: number, now: number): CatchUp {
  const rec = mirror.owners.get(jsid);
  if (rec && rec.value.owner === null) return { takenOver: true, dueSince: rec.value.releasedAt ?? now };
  if (mirror.fresh.has(jsid)) return { takenOver: false, dueSince: now };
  const ttlMs = leaseTtlSec * 1000;
  const freed = mirror.freedAt.get(jsid);
  if (freed !== undefined) {
    // A `pause` owner ran it until its own deadline, ≥ its margin before the expiry we saw:
    // catching up an earlier slot would run it twice. A `continue` owner (or a crash) → once.
    const pause = mirror.freedPauseMarginMs.get(jsid);
    return { takenOver: true, dueSince: pause !== undefined ? freed - pause : freed - ttlMs - 1000 };
  }
  return { takenOver: true, dueSince: now - ttlMs };
}

/**
 * Where the next owner of a jobset this worker stops running must catch up from: just after the
 * latest slot the engine handed on. Not "now": a slot due a moment ago whose timer had not fired
 * yet (busy event loop), or every slot since the engine stopped (graceful stop stops the engine
 * before releasing), was never run here and would otherwise be lost.
 */
export function handoffTime(now: number, dispatchHorizon: (() => number) | null): number {
  const h = dispatchHorizon?.();
  return h === undefined || !Number.isFinite(h) ? now : Math.min(now, Math.floor(h) + 1);
}

/** Jobs and rate of the given jobsets (owned + in flight), per the mirror. */
export function loadOf(mirror: Mirror, jsids: Iterable<string>): { jobs: number; rate: number } {
  let jobs = 0;
  let rate = 0;
  for (const jsid of jsids) {
    const js = mirror.jobsets.get(jsid);
    if (!js) continue;
    jobs += js.count;
    rate += js.rate;
  }
  return { jobs, rate };
}

/** Every live worker except `me` as a claim-plan candidate, with its load per the mirror. */
export function otherCandidates(mirror: Mirror, me: string): Candidate[] {
  return workerCandidates(mirror, me);
}

/** Every live worker (but `except`) as a plan candidate, with its load per the mirror. */
export function workerCandidates(mirror: Mirror, except: string | null = null): Candidate[] {
  const loads = mirror.loads();
  const out: Candidate[] = [];
  for (const [id, w] of mirror.workers) {
    if (id === except) continue;
    const l = loads.get(id) ?? { jobs: 0, rate: 0 };
    out.push({
      id,
      capacity: w.value.capacity,
      jobs: l.jobs,
      rate: l.rate,
      shedding: w.value.shedding,
      rateCap: w.value.rateCap,
    });
  }
  return out;
}

/**
 * Overloaded workers that nobody can relieve: no other live worker that is not itself
 * overloaded or shedding has room for even the smallest jobset the overloaded one owns.
 */
export function stuckWorkers(mirror: Mirror, now: number): Array<{ id: string; since: number }> {
  const owned = new Map<string, Array<{ jobs: number; rate: number }>>();
  for (const [jsid, o] of mirror.owners) {
    const owner = o.value.owner;
    const js = mirror.jobsets.get(jsid);
    if (owner === null || !js || !mirror.workers.has(owner)) continue;
    const list = owned.get(owner) ?? [];
    list.push({ jobs: js.count, rate: js.rate });
    owned.set(owner, list);
  }
  const out: Array<{ id: string; since: number }> = [];
  for (const [id, w] of mirror.workers) {
    if (!w.value.overloaded) continue;
    const mine = owned.get(id) ?? [];
    const relievable = otherCandidates(mirror, id).some(
      (c) =>
        !c.shedding &&
        !mirror.workers.get(c.id)?.value.overloaded &&
        mine.some((js) => hasRoom(c, js.jobs, js.rate)),
    );
    if (!relievable) out.push({ id, since: w.value.overloadedSince ?? now });
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : 1));
}
