import { CronExpressionParser } from 'cron-parser';

/** Validation of cron expressions and IANA time zones, memoised (files repeat the same few). */

const tzCache = new Map<string, boolean>();
const cronCache = new Map<string, string | null>();
const CACHE_MAX = 2000;

function remember<V>(cache: Map<string, V>, key: string, v: V): V {
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(key, v);
  return v;
}

export function isValidTimezone(tz: string): boolean {
  if (tz === 'UTC') return true; // the default: spares a process ICU's start-up (~20-30 ms)
  const hit = tzCache.get(tz);
  if (hit !== undefined) return hit;
  let ok = true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
  } catch {
    ok = false;
  }
  return remember(tzCache, tz, ok);
}

/** null when valid, else a short reason. The timezone must already be valid. */
export function cronError(expr: string, tz: string): string | null {
  const key = `${tz}\u0000${expr}`;
  const hit = cronCache.get(key);
  if (hit !== undefined) return hit;
  const fields = expr.trim().split(/\s+/);
  let reason: string | null = null;
  if (fields.length !== 5 && fields.length !== 6) {
    reason = `has ${fields.length} field${fields.length === 1 ? '' : 's'}; expected 5 (minute hour day month weekday) or 6 (second first)`;
  } else {
    try {
      CronExpressionParser.parse(expr, { tz });
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err);
    }
  }
  return remember(cronCache, key, reason);
}
