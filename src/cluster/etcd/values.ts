/**
 * The JSON values stored under `/watcher/<cluster>/` (docs/CLUSTER.md "Key layout"), with
 * tolerant parsers: a value that does not parse is treated as absent and logged by the caller.
 */
import type { RawEndpoint } from '../../config/types.js';

/** `workers/<id>`, under the worker's lease. */
export interface WorkerValue {
  id: string;
  /** status server host:port */
  address: string;
  capacity: number | null;
  version: string;
  startedAt: number;
  leaseId: string;
  jobs: number;
  jobsets: number;
  lagP99Ms: number | null;
  shedding: boolean;
  /** most checks/s it takes after having shed work (docs/CLUSTER.md "shedding"); null = no limit */
  rateCap: number | null;
  /** in an overload episode (docs/CLUSTER.md "Falling behind"), since when (epoch ms) */
  overloaded: boolean;
  overloadedSince: number | null;
  /** checks/s its owned jobs demand */
  ownedRate: number;
  /** checks/s it completed while overloaded (its measured serviceable rate); null = never measured */
  servedRate: number | null;
  /**
   * `--on-partition pause`: cut off from etcd, this worker stops running its jobsets at least this
   * many ms before its lease can expire, so a taker catches up only from (expiry seen − this).
   * null (`continue`): it keeps running them (docs/CLUSTER.md "Catch-up").
   */
  pauseMarginMs: number | null;
}

/**
 * `scaling`, written by the admin only (fenced, no lease): the current "scaling limit hit"
 * episode, so that an admin change neither repeats nor loses it.
 */
export interface ScalingValue {
  active: boolean;
  /** epoch ms the condition began (active) or the episode was resolved (inactive) */
  since: number;
  /** what holds: jobs waiting, and/or overloaded workers nobody can relieve */
  waitingJobs: number;
  stuckWorkers: string[];
  by: string;
}

export function parseScaling(buf: Buffer): ScalingValue | null {
  const v = parseJson(buf);
  if (!isObj(v) || typeof v.active !== 'boolean') return null;
  return {
    active: v.active,
    since: num(v.since, 0),
    waitingJobs: num(v.waitingJobs, 0),
    stuckWorkers: Array.isArray(v.stuckWorkers) ? v.stuckWorkers.filter((w) => typeof w === 'string') : [],
    by: typeof v.by === 'string' ? v.by : '',
  };
}

/** `jobsets/<jsid>`, written by the admin only. */
export interface JobsetValue {
  v: 1;
  jobs: Record<string, RawEndpoint>;
  /** expected checks per second of each job */
  rates?: Record<string, number>;
  /** expected checks per second of the whole jobset */
  rate: number;
}

/**
 * `owners/<jsid>`. With an owner: put under the owner's lease. Released (graceful stop, shedding):
 * `owner: null` WITHOUT a lease, so claimers know the exact moment to catch up from.
 */
export interface OwnerValue {
  owner: string | null;
  /** epoch ms the current owner took it */
  since?: number;
  /** handover: the giving worker */
  from?: string;
  /** released: epoch ms and by whom */
  releasedAt?: number;
  by?: string;
}

/** `moves/<jsid>`: the admin asks the owner to hand the jobset to `to` (rebalance). */
export interface MoveValue {
  to: string;
  /** owners/<jsid> modRevision the move was planned against (a move for an older owner is void) */
  ownerRev: number;
  at: number;
}

/** `admin`: the elected admin, under its lease. Its create revision is the admin fencing token. */
export interface AdminValue {
  id: string;
  since: number;
}

function parseJson(buf: Buffer): unknown {
  return parseText(buf.toString('utf8'));
}

function parseText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const num = (v: unknown, d: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : d);

export function parseWorker(buf: Buffer): WorkerValue | null {
  const v = parseJson(buf);
  if (!isObj(v) || typeof v.id !== 'string') return null;
  return {
    id: v.id,
    address: typeof v.address === 'string' ? v.address : '',
    capacity: typeof v.capacity === 'number' && v.capacity >= 0 ? v.capacity : null,
    version: typeof v.version === 'string' ? v.version : '',
    startedAt: num(v.startedAt, 0),
    leaseId: typeof v.leaseId === 'string' ? v.leaseId : '0',
    jobs: num(v.jobs, 0),
    jobsets: num(v.jobsets, 0),
    lagP99Ms: typeof v.lagP99Ms === 'number' ? v.lagP99Ms : null,
    shedding: v.shedding === true,
    rateCap: typeof v.rateCap === 'number' && v.rateCap >= 0 ? v.rateCap : null,
    overloaded: v.overloaded === true,
    overloadedSince: typeof v.overloadedSince === 'number' ? v.overloadedSince : null,
    ownedRate: num(v.ownedRate, 0),
    servedRate: typeof v.servedRate === 'number' && v.servedRate >= 0 ? v.servedRate : null,
    pauseMarginMs: typeof v.pauseMarginMs === 'number' && v.pauseMarginMs >= 0 ? v.pauseMarginMs : null,
  };
}

export function parseJobset(buf: Buffer): JobsetValue | null {
  return parseJobsetText(buf.toString('utf8'));
}

/** What the mirror keeps of every jobset without holding its specs: valid jobs and the rate. */
export interface JobsetSummary {
  count: number;
  rate: number;
}

/** The count and rate parseJobsetText would give, without building the value (null: not a jobset). */
export function summarizeJobset(text: string): JobsetSummary | null {
  const v = parseText(text);
  if (!isObj(v) || !isObj(v.jobs)) return null;
  let count = 0;
  for (const raw of Object.values(v.jobs)) if (isObj(raw) && isObj(raw.spec)) count++;
  return { count, rate: num(v.rate, 0) };
}

export function parseJobsetText(text: string): JobsetValue | null {
  const v = parseText(text);
  if (!isObj(v) || !isObj(v.jobs)) return null;
  const jobs: Record<string, RawEndpoint> = {};
  for (const [name, raw] of Object.entries(v.jobs)) {
    if (isObj(raw) && isObj(raw.spec)) {
      jobs[name] = {
        name,
        file: typeof raw.file === 'string' ? raw.file : '',
        line: num(raw.line, 0),
        spec: raw.spec,
      };
    }
  }
  const rates: Record<string, number> = {};
  if (isObj(v.rates)) for (const [n, r] of Object.entries(v.rates)) if (typeof r === 'number') rates[n] = r;
  return { v: 1, jobs, rates, rate: num(v.rate, 0) };
}

export function parseOwner(buf: Buffer): OwnerValue | null {
  const v = parseJson(buf);
  if (!isObj(v)) return null;
  const out: OwnerValue = { owner: typeof v.owner === 'string' ? v.owner : null };
  if (typeof v.since === 'number') out.since = v.since;
  if (typeof v.from === 'string') out.from = v.from;
  if (typeof v.releasedAt === 'number') out.releasedAt = v.releasedAt;
  if (typeof v.by === 'string') out.by = v.by;
  return out;
}

export function parseMove(buf: Buffer): MoveValue | null {
  const v = parseJson(buf);
  if (!isObj(v) || typeof v.to !== 'string') return null;
  return { to: v.to, ownerRev: num(v.ownerRev, 0), at: num(v.at, 0) };
}

export function parseAdmin(buf: Buffer): AdminValue | null {
  const v = parseJson(buf);
  if (!isObj(v) || typeof v.id !== 'string') return null;
  return { id: v.id, since: num(v.since, 0) };
}

export function encode(v: unknown): string {
  return JSON.stringify(v);
}
