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
}

/** Lag of a result: started_at - scheduled_at, ms. */
export function lagMs(r: CheckResult): number {
  return r.started_at - r.scheduled_at;
}
