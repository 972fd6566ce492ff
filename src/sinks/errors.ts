import { WatcherError } from '../model/errors.js';

/**
 * A failed delivery. `retryable` errors (network, timeout, 408, 429, 5xx, throttling) are retried
 * with backoff; the others (4xx, validation) drop the batch. Messages never carry secrets.
 */
export class SinkError extends WatcherError {
  readonly retryable: boolean;
  /** server-requested wait before the next attempt (Retry-After / X-RateLimit-Reset), ms */
  readonly retryAfterMs: number | undefined;
  constructor(code: SinkErrorCode, message: string, opts: { retryable: boolean; retryAfterMs?: number }) {
    super(code, message);
    this.name = 'SinkError';
    this.retryable = opts.retryable;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

export type SinkErrorCode =
  /** connection refused/reset, DNS, TLS */
  | 'WATCHER_SINK_NETWORK'
  /** the request took longer than the sink's timeout */
  | 'WATCHER_SINK_TIMEOUT'
  /** aborted at shutdown */
  | 'WATCHER_SINK_ABORTED'
  /** 408, 429, 5xx, throttling */
  | 'WATCHER_SINK_UNAVAILABLE'
  /** other 4xx: the payload or the credentials are wrong; retrying does not help */
  | 'WATCHER_SINK_REJECTED'
  /** one item too large for the destination at all */
  | 'WATCHER_SINK_TOO_LARGE';
