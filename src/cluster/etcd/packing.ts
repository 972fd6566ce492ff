/**
 * Packs the desired jobs into jobsets, keeping membership stable (pure; docs/CLUSTER.md
 * "Jobsets"): a new job goes into the jobset with the most room, a removed job leaves its jobset,
 * a changed job rewrites its jobset, an emptied jobset is deleted. Existing jobs never move
 * between jobsets, so a reconcile never changes who runs an unchanged job.
 */
import type { RawEndpoint } from '../../config/types.js';
import type { JobsetValue } from './values.js';

/** Hard cap of jobs per jobset (docs/CLUSTER.md explains 64). */
export const MAX_JOBS_PER_JOBSET = 64;
/** Soft cap of a jobset value; etcd refuses requests over 1.5 MiB. */
export const MAX_JOBSET_BYTES = 512 * 1024;
/** A single job bigger than this cannot be stored at all. */
export const MAX_JOB_BYTES = 1024 * 1024;

/**
 * Target jobs per jobset for a cluster of `total` jobs: about 32 jobsets until they are full, so a
 * small cluster still spreads over many workers and `--capacity` has a fine grain.
 */
export function targetJobsetSize(total: number): number {
  return Math.max(1, Math.min(MAX_JOBS_PER_JOBSET, Math.ceil(total / 32)));
}

export interface DesiredJob {
  raw: RawEndpoint;
  /** expected checks per second */
  rate: number;
}

export interface CurrentJobset {
  id: string;
  value: JobsetValue;
}

export interface PackingResult {
  /** jobsets to write (new or changed) */
  puts: Map<string, JobsetValue>;
  /** jobsets to delete (emptied) */
  deletes: string[];
  added: string[];
  changed: string[];
  removed: string[];
  /** jobs that cannot be stored (larger than MAX_JOB_BYTES) */
  tooLarge: string[];
}

export interface PackingOptions {
  newId: () => string;
  /** files whose endpoints are kept as they are in etcd (the file currently has problems) */
  retainFiles?: ReadonlySet<string>;
  maxJobs?: number;
  maxBytes?: number;
}

/** JSON with sorted keys: equal definitions compare equal whatever the key order. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

const roundRate = (x: number): number => Math.round(x * 1e6) / 1e6;

interface Work {
  id: string;
  jobs: Record<string, RawEndpoint>;
  rates: Record<string, number>;
  /** number of jobs in `jobs` (kept, not counted: packing 10,000 new jobs asks it ~1.5M times) */
  count: number;
  bytes: number;
  dirty: boolean;
  isNew: boolean;
}

function jobBytes(raw: RawEndpoint): number {
  return Buffer.byteLength(JSON.stringify(raw)) + 32;
}

export function pack(
  current: CurrentJobset[],
  desired: ReadonlyMap<string, DesiredJob>,
  opts: PackingOptions,
): PackingResult {
  const maxJobs = Math.min(opts.maxJobs ?? MAX_JOBS_PER_JOBSET, MAX_JOBS_PER_JOBSET);
  const maxBytes = opts.maxBytes ?? MAX_JOBSET_BYTES;
  const retain = opts.retainFiles ?? new Set<string>();
  const result: PackingResult = {
    puts: new Map(),
    deletes: [],
    added: [],
    changed: [],
    removed: [],
    tooLarge: [],
  };
  const placed = new Set<string>();
  const sets: Work[] = [];

  for (const js of [...current].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    const w: Work = { id: js.id, jobs: {}, rates: {}, count: 0, bytes: 64, dirty: false, isNew: false };
    const oldRates = js.value.rates ?? {};
    for (const [name, raw] of Object.entries(js.value.jobs)) {
      const want = desired.get(name);
      if (placed.has(name)) {
        // a job listed twice (should not happen): keep the first copy only
        w.dirty = true;
        continue;
      }
      if (!want) {
        if (retain.has(raw.file)) {
          w.jobs[name] = raw;
          w.count++;
          w.rates[name] = oldRates[name] ?? 0;
          w.bytes += jobBytes(raw);
          placed.add(name);
        } else {
          w.dirty = true;
          result.removed.push(name);
        }
        continue;
      }
      placed.add(name);
      w.jobs[name] = want.raw;
      w.count++;
      w.rates[name] = roundRate(want.rate);
      w.bytes += jobBytes(want.raw);
      if (stableJson(raw) !== stableJson(want.raw)) {
        w.dirty = true;
        result.changed.push(name);
      } else if (roundRate(oldRates[name] ?? -1) !== roundRate(want.rate)) {
        w.dirty = true;
      }
    }
    sets.push(w);
  }

  const newJobs = [...desired.keys()].filter((n) => !placed.has(n)).sort();
  const target = Math.min(maxJobs, targetJobsetSize(desired.size));
  for (const name of newJobs) {
    const want = desired.get(name)!;
    const size = jobBytes(want.raw);
    if (size > MAX_JOB_BYTES) {
      result.tooLarge.push(name);
      continue;
    }
    let best: Work | undefined;
    let bestRoom = 0;
    for (const w of sets) {
      const room = target - w.count;
      if (room <= 0 || w.bytes + size > maxBytes) continue;
      if (room > bestRoom) {
        best = w;
        bestRoom = room;
      }
    }
    if (!best) {
      best = { id: opts.newId(), jobs: {}, rates: {}, count: 0, bytes: 64, dirty: true, isNew: true };
      sets.push(best);
    }
    best.jobs[name] = want.raw;
    best.count++;
    best.rates[name] = roundRate(want.rate);
    best.bytes += size;
    best.dirty = true;
    result.added.push(name);
  }

  for (const w of sets) {
    const names = Object.keys(w.jobs);
    if (names.length === 0) {
      if (!w.isNew) result.deletes.push(w.id);
      continue;
    }
    if (!w.dirty) continue;
    const rate = roundRate(names.reduce((s, n) => s + (w.rates[n] ?? 0), 0));
    result.puts.set(w.id, { v: 1, jobs: w.jobs, rates: w.rates, rate });
  }
  return result;
}
