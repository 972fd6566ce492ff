import type { Schedule } from '../model/endpoint.js';
import { CFG } from './codes.js';
import { cronError, isValidTimezone } from './cron.js';
import { DEFAULTS } from './defaults.js';
import type { Problems } from './spec-problems.js';
import { type Spec, str } from './spec-values.js';
import { parseDuration } from './units.js';

/** `interval` or `cron_schedule` (with `timezone`) -> Schedule. */

/** Echo a value in a message only when it was written in the file, not read from the environment. */
function echo(written: unknown, value: string): string {
  return typeof written === 'string' && written.includes('${') ? '(from the environment)' : `"${value}"`;
}

export function schedule(s: Spec, written: Spec, p: Problems): Schedule | null {
  const hasInterval = s.interval !== undefined;
  const hasCron = s.cron_schedule !== undefined;
  if (hasInterval && hasCron) {
    p.add(['cron_schedule'], 'key', CFG.SCHEDULE_BOTH, 'set either `interval` or `cron_schedule`, not both');
    return null;
  }
  if (!hasInterval && !hasCron) {
    p.add([], 'key', CFG.SCHEDULE_NONE, 'no schedule: add `interval: 30s` or `cron_schedule: "*/5 * * * *"`');
    return null;
  }
  if (hasInterval) {
    const everyMs = parseDuration(s.interval);
    if (everyMs === null) {
      p.add(
        ['interval'],
        'value',
        CFG.DURATION,
        '`interval` is not a duration (write e.g. 500ms, 5s, 2m, 1h)',
      );
      return null;
    }
    if (everyMs < DEFAULTS.minIntervalMs) {
      p.add(['interval'], 'value', CFG.RANGE, `\`interval\` must be at least ${DEFAULTS.minIntervalMs}ms`);
      return null;
    }
    return { kind: 'interval', everyMs };
  }
  const timezone = str(s.timezone) ?? DEFAULTS.timezone;
  if (!isValidTimezone(timezone)) {
    p.add(
      ['timezone'],
      'value',
      CFG.TIMEZONE,
      `\`timezone\`: unknown time zone ${echo(written.timezone, timezone)} (use an IANA name like Europe/Paris)`,
    );
    return null;
  }
  const expr = String(s.cron_schedule).trim();
  const err = cronError(expr, timezone);
  if (err !== null) {
    const fromEnv = echo(written.cron_schedule, expr) !== `"${expr}"`;
    const why = fromEnv ? 'expected 5 or 6 valid cron fields' : err; // the reason may quote the value
    p.add(
      ['cron_schedule'],
      'value',
      CFG.CRON,
      `\`cron_schedule\` ${echo(written.cron_schedule, expr)} is invalid: ${why}`,
    );
    return null;
  }
  return { kind: 'cron', expr, timezone };
}
