import type { StateChange } from '../model/alert.js';
import type { CheckResult } from '../model/result.js';
import type { SelfEvent } from './types.js';

/**
 * `{name}` values of a state change: the result's captured `response_json_values`, then the
 * built-ins, which win on a name clash: endpoint, state, previous, reason, worker, status_code,
 * latency_ms, error, at (ISO 8601), event_id, suppressed.
 */
export function stateChangeValues(c: StateChange): Record<string, string> {
  return {
    ...c.result.values,
    ...resultBuiltins(c.result),
    endpoint: c.endpoint,
    state: c.to,
    previous: c.from,
    reason: c.reason ?? '',
    at: new Date(c.at).toISOString(),
    event_id: c.id,
    suppressed: String(c.suppressed),
  };
}

function resultBuiltins(r: CheckResult): Record<string, string> {
  return {
    worker: r.worker,
    status_code: r.status_code === null ? '' : String(r.status_code),
    latency_ms: String(Math.round(r.duration_ms)),
    error: r.error ?? '',
  };
}

/** `{name}` values of a self event: kind, message, worker, at, and each scalar of `details`. */
export function selfEventValues(e: SelfEvent): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(e.details ?? {})) {
    if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) out[k] = String(v);
  }
  return { ...out, kind: e.kind, message: e.message, worker: e.worker, at: new Date(e.at).toISOString() };
}

/**
 * Which state changes are alerts worth sending. The first verdict after startup (UNKNOWN -> UP) is
 * not news; a change to UNKNOWN says nothing about the endpoint; a change inside a maintenance
 * window or under an operator's silence is held.
 */
export function isAlertWorthy(c: StateChange): boolean {
  if (c.to === 'UNKNOWN') return false;
  if (c.maintenance || c.silenced) return false; // held: on the live stream and in the log only
  if (c.from === 'UNKNOWN' && c.to === 'UP') return false;
  return true;
}
