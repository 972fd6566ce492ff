/**
 * `maintenance:` of an endpoint: a list of `{ cron, duration, timezone? }` (recurring) or
 * `{ from, to }` (fixed, ISO 8601 with `Z` or an offset) windows. The schema has checked the field
 * names and types; this checks the combinations and the values, with a position on each problem.
 */
import type { MaintenanceWindow } from '../model/endpoint.js';
import { CFG } from './codes.js';
import { cronError, isValidTimezone } from './cron.js';
import { parseDuration } from './units.js';
import type { Path } from './yaml-file.js';

export interface MaintenanceProblems {
  add(path: Path, at: 'key' | 'value', code: string, message: string): void;
}

/** ISO 8601 date-time with an explicit zone: a window must not move with the worker's TZ. */
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

function instant(v: unknown, path: Path, field: string, p: MaintenanceProblems): number | null {
  const ms = typeof v === 'string' && ISO_WITH_ZONE.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(ms)) {
    p.add(
      path,
      'value',
      CFG.MAINTENANCE,
      `\`${field}\` must be an ISO 8601 time with a zone, like 2026-12-24T18:00:00Z or 2026-12-24T19:00:00+01:00`,
    );
    return null;
  }
  return ms;
}

/**
 * Normalised windows, or undefined when none are declared. `defaultTimezone` is the endpoint's
 * `timezone` (cron windows without their own use it).
 */
export function maintenanceWindows(
  v: unknown,
  defaultTimezone: string,
  p: MaintenanceProblems,
): MaintenanceWindow[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  const out: MaintenanceWindow[] = [];
  v.forEach((raw, i) => {
    const w = (raw ?? {}) as Record<string, unknown>;
    const at: Path = ['maintenance', i];
    const recurring = w.cron !== undefined || w.duration !== undefined;
    const fixed = w.from !== undefined || w.to !== undefined;
    if (recurring === fixed) {
      p.add(
        at,
        'value',
        CFG.MAINTENANCE,
        recurring
          ? '`maintenance` window: write either { cron, duration } or { from, to }, not both'
          : '`maintenance` window: write { cron: "0 2 * * SUN", duration: 2h } or { from: ..., to: ... }',
      );
      return;
    }
    if (recurring) {
      if (w.cron === undefined || w.duration === undefined) {
        p.add(
          at,
          'value',
          CFG.MAINTENANCE,
          `\`maintenance\` window: \`${w.cron === undefined ? 'cron' : 'duration'}\` is missing`,
        );
        return;
      }
      const timezone = typeof w.timezone === 'string' ? w.timezone : defaultTimezone;
      if (!isValidTimezone(timezone)) {
        p.add(
          [...at, 'timezone'],
          'value',
          CFG.TIMEZONE,
          `\`timezone\`: unknown time zone "${timezone}" (use an IANA name like Europe/Paris)`,
        );
        return;
      }
      const expr = String(w.cron).trim();
      const err = cronError(expr, timezone);
      if (err !== null) {
        p.add([...at, 'cron'], 'value', CFG.CRON, `\`cron\` "${expr}" is invalid: ${err}`);
        return;
      }
      const durationMs = parseDuration(w.duration);
      if (durationMs === null || durationMs <= 0) {
        p.add(
          [...at, 'duration'],
          'value',
          CFG.DURATION,
          '`duration` is not a duration (write e.g. 30m, 2h)',
        );
        return;
      }
      out.push({ kind: 'cron', expr, timezone, durationMs });
      return;
    }
    if (w.timezone !== undefined) {
      p.add(
        [...at, 'timezone'],
        'key',
        CFG.MAINTENANCE,
        '`timezone` applies to cron windows; give from/to with a zone instead',
      );
      return;
    }
    if (w.from === undefined || w.to === undefined) {
      p.add(
        at,
        'value',
        CFG.MAINTENANCE,
        `\`maintenance\` window: \`${w.from === undefined ? 'from' : 'to'}\` is missing`,
      );
      return;
    }
    const fromMs = instant(w.from, [...at, 'from'], 'from', p);
    const toMs = instant(w.to, [...at, 'to'], 'to', p);
    if (fromMs === null || toMs === null) return;
    if (toMs <= fromMs) {
      p.add([...at, 'to'], 'value', CFG.MAINTENANCE, '`to` must be after `from`');
      return;
    }
    out.push({ kind: 'fixed', fromMs, toMs });
  });
  return out.length > 0 ? out : undefined;
}
