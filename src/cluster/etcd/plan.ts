/**
 * Pure planning functions, identical on every worker so that workers looking at the same mirror
 * reach the same answer without talking to each other:
 * - who should claim which free jobset (no stampede: one primary per jobset, ranked backups);
 * - which worker contends for admin first;
 * - which jobsets the admin moves to even out load (by expected checks per second).
 */

/** A live worker as the planners see it. */
export interface Candidate {
  id: string;
  capacity: number | null;
  jobs: number;
  rate: number;
  shedding: boolean;
  /**
   * most checks/s this worker takes (set by the worker itself after it shed work: the load it
   * showed it can serve); null/absent = no limit
   */
  rateCap?: number | null;
}

export interface FreeJobset {
  id: string;
  jobs: number;
  rate: number;
}

/** 32-bit FNV-1a of `a \0 b`: the rendezvous (highest random weight) score of a pair. */
export function rendezvous(a: string, b: string): number {
  let h = 0x811c9dc5;
  const s = `${a}\u0000${b}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // final avalanche so that similar ids do not give similar scores
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return h >>> 0;
}

const round = (x: number): number => Math.round(x * 1e6) / 1e6;

/** Room for `jobs` more jobs (`--capacity`) and `rate` more checks/s (the worker's rate cap). */
export function hasRoom(c: Candidate, jobs: number, rate: number): boolean {
  if (c.capacity !== null && c.jobs + jobs > c.capacity) return false;
  return c.rateCap === undefined || c.rateCap === null || c.rate + rate <= c.rateCap + 1e-6;
}

/** The order planClaims places free jobsets in: biggest first, then by id. */
function placementOrder(free: FreeJobset[]): FreeJobset[] {
  return [...free].sort(
    (a, b) => b.rate - a.rate || b.jobs - a.jobs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

/** A candidate with room for the jobset being placed, with its sort keys for that jobset. */
interface Ranked {
  c: Candidate;
  rate: number;
  /** rendezvous(jobset, candidate); -1 until a tie needs it */
  score: number;
}

/**
 * Places the free jobsets biggest first; each goes to the least-loaded candidate with room
 * (checks/s, then jobs), ties broken by rendezvous hash, and its load is added before the next
 * jobset is placed (water-filling). `rank` sees each jobset's eligible candidates with the one
 * candidate order, and returns the candidate that comes first.
 */
function placeFree(
  free: FreeJobset[],
  candidates: Candidate[],
  rank: (js: FreeJobset, eligible: Ranked[], before: (a: Ranked, b: Ranked) => number) => Ranked | undefined,
): void {
  const work = candidates.filter((c) => !c.shedding).map((c) => ({ ...c }));
  for (const js of placementOrder(free)) {
    const eligible: Ranked[] = [];
    for (const c of work)
      if (hasRoom(c, js.jobs, js.rate)) eligible.push({ c, rate: round(c.rate), score: -1 });
    const score = (k: Ranked): number => {
      if (k.score < 0) k.score = rendezvous(js.id, k.c.id);
      return k.score;
    };
    const first = rank(
      js,
      eligible,
      (a, b) => a.rate - b.rate || a.c.jobs - b.c.jobs || score(b) - score(a) || (a.c.id < b.c.id ? -1 : 1),
    );
    if (first) {
      first.c.jobs += js.jobs;
      first.c.rate += js.rate;
    }
  }
}

/**
 * Ranks the candidates for every free jobset (placeFree). The returned list per jobset is the
 * ranking at the moment it was placed: index 0 claims at once, index k after k steps.
 */
export function planClaims(free: FreeJobset[], candidates: Candidate[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  placeFree(free, candidates, (js, eligible, before) => {
    eligible.sort(before);
    out.set(
      js.id,
      eligible.map((k) => k.c.id),
    );
    return eligible[0];
  });
  return out;
}

/**
 * planClaims' answer for one worker: the rank of `self` on each free jobset (-1: not eligible),
 * found by one pass over the candidates instead of a sort (rendezvous scores computed only for
 * ties). The claimer replans after every watch batch of a claim burst; sorting every jobset's
 * candidates each time made a burst after a loss cost seconds.
 */
export function planClaimRanks(
  free: FreeJobset[],
  candidates: Candidate[],
  self: string,
): Map<string, number> {
  const out = new Map<string, number>();
  placeFree(free, candidates, (js, eligible, before) => {
    const me = eligible.find((k) => k.c.id === self);
    let first = eligible[0];
    let rank = 0;
    for (const k of eligible) {
      if (first && k !== first && before(k, first) < 0) first = k;
      if (me && k !== me && before(k, me) < 0) rank++;
    }
    out.set(js.id, me ? rank : -1);
    return first;
  });
  return out;
}

/** Position of `self` in the admin contention order of `workers` (0 = tries at once). */
export function adminRank(workers: string[], self: string): number {
  const order = [...workers].sort(
    (a, b) => rendezvous('admin', b) - rendezvous('admin', a) || (a < b ? -1 : 1),
  );
  const i = order.indexOf(self);
  return i < 0 ? order.length : i;
}

export interface OwnedJobset {
  id: string;
  owner: string;
  jobs: number;
  rate: number;
  /** false: has a pending move; never picked */
  movable: boolean;
  /** recently moved away from this worker: not moved back to it (no ping-pong) */
  notTo?: string | undefined;
}

export interface Move {
  jobset: string;
  from: string;
  to: string;
}

export interface MovePlanOptions {
  /** most moves in one round */
  maxMoves: number;
  /** no move while the spread (max − min load) is within this fraction of the mean load [0.1] */
  tolerance?: number;
}

/**
 * Moves towards an even share of checks/s, as few as possible. Each move takes from the most
 * loaded worker the biggest jobset that is at most half the gap to the least-loaded worker with
 * room. Such a move strictly lowers the sum of squared loads, so repeated rounds converge and can
 * never oscillate; equal loads (within the tolerance band) move nothing.
 */
export function planMoves(workers: Candidate[], owned: OwnedJobset[], opts: MovePlanOptions): Move[] {
  const live = workers.filter((w) => !w.shedding).map((w) => ({ ...w }));
  if (live.length < 2) return [];
  const byId = new Map(live.map((w) => [w.id, w]));
  const pool = owned.filter((j) => j.movable && byId.has(j.owner)).map((j) => ({ ...j }));
  const total = live.reduce((s, w) => s + w.rate, 0);
  const mean = total / live.length;
  const band = Math.max(1e-9, (opts.tolerance ?? 0.1) * mean);
  const moves: Move[] = [];
  for (let round = 0; round < opts.maxMoves; round++) {
    const givers = [...live].sort((a, b) => b.rate - a.rate || (a.id < b.id ? -1 : 1));
    let planned: Move | null = null;
    for (const giver of givers) {
      const receivers = live
        .filter((w) => w.id !== giver.id)
        .sort((a, b) => a.rate - b.rate || (a.id < b.id ? -1 : 1));
      for (const receiver of receivers) {
        const gap = giver.rate - receiver.rate;
        if (gap <= band) break;
        const pick = pool
          .filter(
            (j) =>
              j.owner === giver.id &&
              j.notTo !== receiver.id &&
              j.rate <= gap / 2 + 1e-9 &&
              hasRoom(receiver, j.jobs, j.rate),
          )
          .sort((a, b) => b.rate - a.rate || b.jobs - a.jobs || (a.id < b.id ? -1 : 1))[0];
        if (!pick) continue;
        planned = { jobset: pick.id, from: giver.id, to: receiver.id };
        giver.rate -= pick.rate;
        giver.jobs -= pick.jobs;
        receiver.rate += pick.rate;
        receiver.jobs += pick.jobs;
        pick.owner = receiver.id;
        pick.movable = false;
        break;
      }
      if (planned) break;
    }
    if (!planned) break;
    moves.push(planned);
  }
  return moves;
}

/**
 * `watcher_cluster_workers_needed` (docs/CLUSTER.md "Signals for an autoscaler"):
 * ⌈demanded checks/s of the cluster ÷ mean serviceable rate per worker⌉, where a worker's
 * serviceable rate is what it completed while overloaded (published for the rate-cap hold after
 * the episode). When no worker has measured one: ⌈jobs ÷ mean --capacity⌉ if every live worker
 * has a capacity, else the live workers (nothing says more or fewer are needed). At least 1
 * while there is work.
 */
export function workersNeeded(input: {
  demandRate: number;
  totalJobs: number;
  workers: Array<{ capacity: number | null; servedRate: number | null }>;
}): number {
  const { demandRate, totalJobs, workers } = input;
  if (totalJobs === 0) return 0;
  const served = workers.map((w) => w.servedRate).filter((r): r is number => r !== null && r > 0);
  if (served.length > 0) {
    const mean = served.reduce((a, b) => a + b, 0) / served.length;
    return Math.max(1, Math.ceil(demandRate / mean - 1e-9));
  }
  const caps = workers.map((w) => w.capacity);
  if (workers.length > 0 && caps.every((c) => c !== null && c > 0)) {
    const mean = (caps as number[]).reduce((a, b) => a + b, 0) / caps.length;
    return Math.max(1, Math.ceil(totalJobs / mean - 1e-9));
  }
  return Math.max(1, workers.length);
}
