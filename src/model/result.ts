/** Phase timings of one check, ms. Present only for phases that happened (a reused connection has no dns/connect/tls). */
export interface PhaseTimings {
  dns?: number;
  connect?: number;
  tls?: number;
  firstByte?: number;
  total: number;
}

/**
 * The result of one check (SPEC.md "Checks"). Field names are the wire/JSON-lines names.
 * Times are epoch milliseconds.
 */
export interface CheckResult {
  /** endpoint name (= job id) */
  endpoint: string;
  scheduled_at: number;
  started_at: number;
  duration_ms: number;
  ok: boolean;
  status_code: number | null;
  /** short, stable reason when !ok: `timeout`, `connect ECONNREFUSED`, `status 503`, `json: ...`, `test: ...` */
  error: string | null;
  /** captured `response_json_values` (stringified leaves), also the `{name}` template values */
  values: Record<string, string>;
  /** worker id that ran it */
  worker: string;
  timings?: PhaseTimings;
  /** inside a maintenance window of the endpoint: its alerts are suppressed (absent otherwise) */
  maintenance?: true;
  /** an operator's `watcher silence` covers the endpoint: its alerts are suppressed (absent otherwise) */
  silenced?: true;
  /** run by `watcher run-now`, outside the schedule (absent otherwise) */
  run_now?: true;
  /** `confirm: 1` only, on the failure that would make the endpoint DOWN: what the second opinion said */
  confirm?: { outcome: ConfirmOutcome; by: string | null; error: string | null };
  /** another worker passed this check: not applied to the alert state, never sent to sinks */
  unconfirmed?: boolean;
}

/**
 * `confirmed`: the other worker failed too; `refuted`: it succeeded; `no_answer`: nobody answered
 * in time; `unavailable`: nobody to ask (standalone, a lone worker, etcd unreachable).
 */
export type ConfirmOutcome = 'confirmed' | 'refuted' | 'no_answer' | 'unavailable';

/** Lag of a result: started_at - scheduled_at, ms. */
export function lagMs(r: CheckResult): number {
  return r.started_at - r.scheduled_at;
}
