/**
 * Slot arithmetic: where the scheduled instants of a Schedule fall. Pure functions of the schedule
 * and a time; no clock, no state (apart from a parse cache, invisible to callers).
 *
 * - cron: cron-parser 5, 5 fields (minute resolution) or 6 (seconds first), in `timezone` (default UTC).
 * - interval: slots at `phase + k * everyMs` on the epoch grid, where `phase = hash(phaseKey) mod everyMs`.
 *   The phase spreads jobs with the same interval over the whole period, and the grid makes every
 *   next time a function of the schedule alone (no drift, no "now + interval").
 */
import { type CronExpression, CronExpressionParser } from 'cron-parser';
import type { Schedule } from '../model/endpoint.js';
import { WatcherError } from '../model/errors.js';

/** Error code for a schedule that cannot produce slots (bad cron, bad timezone, bad interval). */
export const SCHEDULE_INVALID = 'WATCHER_SCHEDULE_INVALID';

/** The next slot strictly after `after` (epoch ms). Throws WatcherError(SCHEDULE_INVALID). */
export function nextDue(schedule: Schedule, after: number, phaseKey: string): number {
  if (schedule.kind === 'interval') {
    const every = intervalOf(schedule);
    const phase = phaseOf(phaseKey, every);
    return phase + (Math.floor((after - phase) / every) + 1) * every;
  }
  return cronStep(schedule, after, 'next');
}

/** The latest slot at or before `atOrBefore` (epoch ms). Throws WatcherError(SCHEDULE_INVALID). */
export function latestDue(schedule: Schedule, atOrBefore: number, phaseKey: string): number {
  if (schedule.kind === 'interval') {
    const every = intervalOf(schedule);
    const phase = phaseOf(phaseKey, every);
    return phase + Math.floor((atOrBefore - phase) / every) * every;
  }
  // cron-parser's prev() is strictly before currentDate.
  return cronStep(schedule, atOrBefore + 1, 'prev');
}

/**
 * Number of slots s with `from <= s < to`, where `from` is a slot. Exact for intervals; for cron it
 * walks at most `cap` slots and estimates beyond that (used only for the skipped-slots counter).
 */
export function slotsBetween(
  schedule: Schedule,
  from: number,
  to: number,
  phaseKey: string,
  cap = 10_000,
): number {
  if (to <= from) return 0;
  if (schedule.kind === 'interval') return Math.ceil((to - from) / intervalOf(schedule));
  let n = 0;
  let s = from;
  while (s < to) {
    if (n >= cap) return n + Math.ceil((to - s) / Math.max(1, typicalIntervalMs(schedule, s)));
    n++;
    s = nextDue(schedule, s, phaseKey);
  }
  return n;
}

/**
 * The usual distance between two slots: `everyMs` for an interval; for cron, the distance between
 * the next two slots after `at` (default: now). Used for the lag threshold.
 */
export function typicalIntervalMs(schedule: Schedule, at: number = Date.now()): number {
  if (schedule.kind === 'interval') return intervalOf(schedule);
  const a = nextDue(schedule, at, '');
  return nextDue(schedule, a, '') - a;
}

/** Throws WatcherError(SCHEDULE_INVALID) unless the schedule can produce slots. */
export function assertValidSchedule(schedule: Schedule): void {
  if (schedule.kind === 'interval') intervalOf(schedule);
  else cronStep(schedule, 0, 'next');
}

/**
 * Stable phase of a job within a period, in [0, everyMs). A 53-bit hash of the key (two seeded
 * FNV-1a 32-bit passes, each finished with murmur3's fmix32 so that near-identical names such as
 * `host1/health` and `host2/health` land far apart) reduced modulo the period.
 */
export function phaseOf(phaseKey: string, everyMs: number): number {
  const hi = fmix32(fnv1a32(phaseKey, 0x811c9dc5)) >>> 11; // 21 bits
  const lo = fmix32(fnv1a32(phaseKey, 0x050c5d1f)); // 32 bits
  return (hi * 2 ** 32 + lo) % everyMs;
}

function fnv1a32(s: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function intervalOf(schedule: { everyMs: number }): number {
  const every = Math.round(schedule.everyMs);
  if (!Number.isFinite(every) || every < 1) {
    throw new WatcherError(SCHEDULE_INVALID, `interval must be at least 1 ms, got ${schedule.everyMs}`);
  }
  return every;
}

/**
 * Parsing is ~50 µs, stepping a parsed expression ~5 µs: keep one parsed expression per
 * (timezone, expr) and remember its last answer, so 10,000 jobs with the same cron computed at the
 * same instant cost one step.
 */
interface CronCacheEntry {
  expr: CronExpression;
  lastFrom: number;
  lastDir: 'next' | 'prev' | '';
  lastResult: number;
}
const CRON_CACHE_MAX = 4096;
const cronCache = new Map<string, CronCacheEntry>();

function cronStep(schedule: { expr: string; timezone: string }, from: number, dir: 'next' | 'prev'): number {
  const tz = schedule.timezone || 'UTC';
  const key = `${tz}\u0000${schedule.expr}`;
  let entry = cronCache.get(key);
  if (!entry) {
    entry = { expr: parseCron(schedule.expr, tz, from), lastFrom: Number.NaN, lastDir: '', lastResult: 0 };
    if (cronCache.size >= CRON_CACHE_MAX) cronCache.clear();
    cronCache.set(key, entry);
  }
  if (entry.lastFrom === from && entry.lastDir === dir) return entry.lastResult;
  let result: number;
  try {
    entry.expr.reset(new Date(from));
    result = (dir === 'next' ? entry.expr.next() : entry.expr.prev()).getTime();
  } catch (err) {
    throw new WatcherError(
      SCHEDULE_INVALID,
      `cron "${schedule.expr}" (${tz}): no ${dir} slot from ${new Date(from).toISOString()}: ${messageOf(err)}`,
      { cause: err },
    );
  }
  if (!Number.isFinite(result)) {
    throw new WatcherError(SCHEDULE_INVALID, `cron "${schedule.expr}": invalid timezone "${tz}"`);
  }
  entry.lastFrom = from;
  entry.lastDir = dir;
  entry.lastResult = result;
  return result;
}

function parseCron(expr: string, tz: string, from: number): CronExpression {
  const fields = expr.trim().split(/\s+/).length;
  if (!expr.trim().startsWith('@') && fields !== 5 && fields !== 6) {
    throw new WatcherError(SCHEDULE_INVALID, `cron "${expr}": expected 5 or 6 fields, got ${fields}`);
  }
  let parsed: CronExpression;
  try {
    parsed = CronExpressionParser.parse(expr, { currentDate: from, tz });
  } catch (err) {
    throw new WatcherError(SCHEDULE_INVALID, `cron "${expr}": ${messageOf(err)}`, { cause: err });
  }
  // An unknown timezone is accepted by parse and fails (or yields NaN) on the first step.
  let first: number;
  try {
    first = parsed.next().getTime();
  } catch (err) {
    throw new WatcherError(SCHEDULE_INVALID, `cron "${expr}" (${tz}): ${messageOf(err)}`, { cause: err });
  }
  if (!Number.isFinite(first)) {
    throw new WatcherError(SCHEDULE_INVALID, `cron "${expr}": invalid timezone "${tz}"`);
  }
  return parsed;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
