/**
 * Whether an instant lies inside one of an endpoint's maintenance windows. Pure apart from a
 * per-window cache of the span last computed (inside or outside), so that a check result costs a
 * comparison, not a cron evaluation, until the span ends.
 */
import { CronExpressionParser } from 'cron-parser';
import type { MaintenanceWindow } from '../model/endpoint.js';

interface Span {
  from: number;
  to: number;
  inside: boolean;
}

const spans = new WeakMap<MaintenanceWindow, Span>();

/** The span around `at` in which a cron window's verdict does not change. */
function cronSpan(w: Extract<MaintenanceWindow, { kind: 'cron' }>, at: number): Span {
  // prev() is strictly before currentDate: +1 makes a window that opens exactly at `at` count.
  const it = CronExpressionParser.parse(w.expr, { currentDate: new Date(at + 1), tz: w.timezone });
  let start = Number.NEGATIVE_INFINITY;
  try {
    start = it.prev().getTime();
  } catch {
    // no earlier occurrence
  }
  if (at < start + w.durationMs) return { from: start, to: start + w.durationMs, inside: true };
  const after = CronExpressionParser.parse(w.expr, { currentDate: new Date(at), tz: w.timezone });
  let next = Number.POSITIVE_INFINITY;
  try {
    next = after.next().getTime();
  } catch {
    // no later occurrence
  }
  return { from: Math.max(start + w.durationMs, at), to: next, inside: false };
}

function windowAt(w: MaintenanceWindow, at: number): boolean {
  if (w.kind === 'fixed') return at >= w.fromMs && at < w.toMs;
  const hit = spans.get(w);
  if (hit && at >= hit.from && at < hit.to) return hit.inside;
  const span = cronSpan(w, at);
  spans.set(w, span);
  return span.inside;
}

/** The first window that contains `at` (epoch ms), or null. */
export function maintenanceAt(
  windows: readonly MaintenanceWindow[] | undefined,
  at: number,
): MaintenanceWindow | null {
  if (!windows) return null;
  for (const w of windows) if (windowAt(w, at)) return w;
  return null;
}
