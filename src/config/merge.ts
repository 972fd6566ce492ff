/**
 * `defaults` merged under an endpoint. Rules (docs/CONFIG.md): the endpoint's value wins; the
 * mappings in MERGED_MAPS merge key by key (one level); everything else (lists, success_test,
 * body, templates) is replaced as a whole; a schedule (`interval` or `cron_schedule`) on the
 * endpoint replaces both schedule fields of the defaults.
 */

type Spec = Record<string, unknown>;

const MERGED_MAPS = new Set(['headers', 'alert', 'post_api_key', 'datadog', 'cloudwatch_alarm']);
const SCHEDULE = ['interval', 'cron_schedule'];

function isMapping(v: unknown): v is Spec {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function mergeDefaults(defaults: Spec | null | undefined, endpoint: Spec | null | undefined): Spec {
  const own = endpoint ?? {};
  const out: Spec = {};
  const ownSchedule = SCHEDULE.some((k) => own[k] !== undefined);
  for (const [k, v] of Object.entries(defaults ?? {})) {
    if (ownSchedule && SCHEDULE.includes(k)) continue;
    out[k] = v;
  }
  for (const [k, v] of Object.entries(own)) {
    const base = out[k];
    if (MERGED_MAPS.has(k) && (isMapping(base) || base === null) && (isMapping(v) || v === null)) {
      out[k] = base === null && v === null ? null : { ...(base ?? {}), ...(v ?? {}) };
    } else {
      out[k] = v;
    }
  }
  return out;
}
