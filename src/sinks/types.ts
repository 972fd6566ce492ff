/**
 * The contract between the outbox and the destinations. A `Sink` only knows how to put one batch
 * on the wire; batching, retries, buffering and counting live in the `Outbox`.
 */

/** What happened to one item of a batch. */
export type ItemOutcome = 'sent' | 'retry' | 'drop';

/** Per-item report of a send that partly failed. Omit (return undefined) when every item was sent. */
export interface SendReport {
  /** aligned with the batch */
  outcomes: ItemOutcome[];
  /** a short reason for the failed items (no secrets) */
  error?: string;
  /** earliest next attempt for the 'retry' items (rate limit), ms from now */
  retryAfterMs?: number;
}

export interface SinkLimits {
  /** most items handed to one send() */
  maxItems: number;
  /** most bytes (as measured by sizeOf) handed to one send() */
  maxBytes: number;
}

export interface Sink<T> {
  /** metric label and log name, e.g. `datadog-checks:api.datadoghq.com`; never contains a secret */
  readonly name: string;
  readonly limits: SinkLimits;
  /** approximate wire size of one item, bytes */
  sizeOf(item: T): number;
  /**
   * Deliver one batch. Resolve undefined when all were accepted, a SendReport for partial
   * failures, or throw a SinkError (whole batch retryable or permanent).
   */
  send(batch: T[], signal: AbortSignal): Promise<SendReport | undefined>;
}

/** Events about watcher itself, delivered to the sinks configured under `self`. */
export type SelfEventKind =
  | 'worker_started'
  | 'worker_stopped'
  | 'admin_changed'
  | 'config_error'
  | 'config_fixed'
  | 'lag_high'
  | 'lag_ok'
  | 'scaling_limit_hit'
  | 'scaling_limit_resolved'
  | 'sink_dropping'
  | 'worker_degraded'
  | 'worker_recovered'
  | 'results_file_failing'
  | 'results_file_ok'
  | 'etcd_write_refused'
  | 'etcd_write_ok'
  | 'clock_step'
  | 'config_drift'
  | 'config_drift_resolved'
  | 'check_unconfirmed'
  | 'endpoint_moved_away';

export interface SelfEvent {
  kind: SelfEventKind;
  /** epoch ms */
  at: number;
  worker: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface SinkStats {
  sink: string;
  queued: number;
  sent: number;
  dropped: number;
  lastError: string | null;
}
