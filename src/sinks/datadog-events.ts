import type { StateChange } from '../model/alert.js';
import type { DatadogSinkConfig } from './datadog-service-checks.js';
import { endpointTags } from './datadog-service-checks.js';
import { SinkError } from './errors.js';
import { httpPost, sendEach } from './http.js';
import { renderObject } from './template.js';
import { selfEventValues, stateChangeValues } from './template-values.js';
import type { SelfEvent, SelfEventKind, SendReport, Sink, SinkLimits } from './types.js';

export type DatadogAlertType = 'error' | 'warning' | 'info' | 'success';

/** Body of `POST /api/v1/events` (the rendered template's other fields are passed through). */
export interface DatadogEvent {
  title: string;
  /** ≤ 4000 characters */
  text: string;
  alert_type: DatadogAlertType;
  /** ≤ 100 characters */
  aggregation_key: string;
  /** epoch seconds */
  date_happened: number;
  tags: string[];
  [field: string]: unknown;
}

export const EVENT_TEXT_MAX = 4000;
/** Datadog refuses events whose date_happened is more than 18 hours old. */
export const EVENT_MAX_AGE_MS = 18 * 3600_000;
/** sent only while younger than this: the limit less a margin for the time in flight and clock skew */
export const EVENT_SEND_MAX_AGE_MS = EVENT_MAX_AGE_MS - 10 * 60_000;
export const AGGREGATION_KEY_MAX = 100;

function templateTags(v: unknown): string[] {
  const list = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : [];
  return list
    .filter((t): t is string => typeof t === 'string')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null;
}

function build(
  rendered: Record<string, unknown>,
  fields: {
    title: string;
    text: string;
    alertType: DatadogAlertType;
    key: string;
    at: number;
    tags: string[];
  },
): DatadogEvent {
  const tags = templateTags(rendered.tags);
  for (const t of fields.tags) if (!tags.includes(t)) tags.push(t);
  return {
    ...rendered,
    title: fields.title,
    text: fields.text.slice(0, EVENT_TEXT_MAX),
    alert_type: fields.alertType,
    aggregation_key: fields.key.slice(0, AGGREGATION_KEY_MAX),
    date_happened: Math.floor(fields.at / 1000),
    tags,
  };
}

/**
 * The event of a state change, from the endpoint's `post_json_info` template. DOWN = error,
 * UP = success. A suppressed DOWN (its depends_on parent is DOWN) is sent as `info`, titled
 * `[suppressed]` and tagged `suppressed:true`, so that it is on record but pages nobody.
 */
export function datadogEventForChange(
  c: StateChange,
  tpl: Record<string, unknown> | null,
  extraTags: readonly string[],
): DatadogEvent {
  const rendered = renderObject(tpl, stateChangeValues(c));
  const down = c.to === 'DOWN';
  let title = str(rendered.title) ?? `[watcher] ${c.endpoint} is ${c.to}`;
  let text =
    str(rendered.text) ??
    (down ? `${c.endpoint} is DOWN: ${c.reason ?? 'unknown reason'}` : `${c.endpoint} is UP`);
  const tags = endpointTags(c.endpoint, extraTags);
  let alertType: DatadogAlertType = down ? 'error' : 'success';
  if (c.suppressed) {
    alertType = 'info';
    title = `[suppressed] ${title}`;
    text = `${text}\n(suppressed: a depends_on parent is DOWN)`;
    tags.push('suppressed:true');
  }
  return build(rendered, { title, text, alertType, key: c.endpoint, at: c.at, tags });
}

const SELF_ALERT_TYPES: Record<SelfEventKind, DatadogAlertType> = {
  worker_started: 'info',
  worker_stopped: 'info',
  admin_changed: 'info',
  config_error: 'error',
  config_fixed: 'success',
  lag_high: 'warning',
  lag_ok: 'success',
  scaling_limit_hit: 'error',
  scaling_limit_resolved: 'success',
  sink_dropping: 'warning',
  worker_degraded: 'error',
  worker_recovered: 'success',
  results_file_failing: 'error',
  results_file_ok: 'success',
  etcd_write_refused: 'error',
  etcd_write_ok: 'success',
  clock_step: 'warning',
  config_drift: 'warning',
  config_drift_resolved: 'success',
  check_unconfirmed: 'warning',
  endpoint_moved_away: 'warning',
};

/** Pairs (error/fixed, high/ok, hit/resolved) share an aggregation key so Datadog groups them. */
export function selfAggregationKey(e: SelfEvent): string {
  switch (e.kind) {
    case 'config_error':
    case 'config_fixed':
      return 'watcher:config';
    case 'lag_high':
    case 'lag_ok':
      return `watcher:lag:${e.worker}`;
    case 'scaling_limit_hit':
    case 'scaling_limit_resolved':
      return 'watcher:scaling';
    case 'worker_started':
    case 'worker_stopped':
      return `watcher:worker:${e.worker}`;
    case 'worker_degraded':
    case 'worker_recovered':
      return `watcher:degraded:${e.worker}`;
    case 'results_file_failing':
    case 'results_file_ok':
      return `watcher:results_file:${e.worker}`;
    case 'etcd_write_refused':
    case 'etcd_write_ok':
      return 'watcher:etcd_writes';
    default:
      return `watcher:${e.kind}`;
  }
}

export function datadogEventForSelf(
  e: SelfEvent,
  tpl: Record<string, unknown> | null,
  extraTags: readonly string[],
): DatadogEvent {
  const rendered = renderObject(tpl, selfEventValues(e));
  const tags = [`watcher_event:${e.kind}`, `worker:${e.worker}`, ...extraTags];
  return build(rendered, {
    title: str(rendered.title) ?? `[watcher] ${e.kind.replace(/_/g, ' ')}: ${e.worker}`,
    text: str(rendered.text) ?? e.message,
    alertType: SELF_ALERT_TYPES[e.kind],
    key: selfAggregationKey(e),
    at: e.at,
    tags,
  });
}

/** Events through `POST {base}/api/v1/events`, one per request, key in DD-API-KEY. */
export class DatadogEventsSink implements Sink<DatadogEvent> {
  readonly name: string;
  readonly limits: SinkLimits = { maxItems: 20, maxBytes: 1_000_000 };

  constructor(private readonly cfg: DatadogSinkConfig) {
    this.name = cfg.name;
  }

  sizeOf(item: DatadogEvent): number {
    return JSON.stringify(item).length;
  }

  /**
   * One request per event. An event older than Datadog accepts (after a long outage, say) is
   * dropped without a request, as a permanent failure: counted in watcher_sink_dropped_total.
   */
  send(batch: DatadogEvent[], signal: AbortSignal): Promise<SendReport | undefined> {
    return sendEach(batch, async (ev) => {
      if (Date.now() - ev.date_happened * 1000 > EVENT_SEND_MAX_AGE_MS) {
        throw new SinkError('WATCHER_SINK_REJECTED', 'event older than 18 h (Datadog refuses it)', {
          retryable: false,
        });
      }
      return httpPost({
        url: `${this.cfg.baseUrl}/api/v1/events`,
        headers: { 'content-type': 'application/json', 'dd-api-key': this.cfg.apiKey },
        body: JSON.stringify(ev),
        signal,
        timeoutMs: this.cfg.timeoutMs,
      });
    });
  }
}
