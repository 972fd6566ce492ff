import type { CheckResult } from './result.js';

export type Health = 'UP' | 'DOWN' | 'UNKNOWN';

/** Per-endpoint alert state. Persisted (cluster mode: in etcd, on changes only) so a new owner continues it. */
export interface AlertState {
  endpoint: string;
  state: Health;
  /** consecutive results agreeing with the pending direction */
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** epoch ms of the last state change (0 = never) */
  since: number;
  /** last failure reason that contributed to DOWN */
  reason: string | null;
}

/** Emitted when an endpoint's state changes. Sinks consume these. */
export interface StateChange {
  endpoint: string;
  from: Health;
  to: Health;
  /** epoch ms */
  at: number;
  reason: string | null;
  /** true when a DOWN was suppressed because a `depends_on` parent is DOWN */
  suppressed: boolean;
  /** inside a maintenance window: kept in state and on the live stream, never sent to sinks */
  maintenance?: true;
  /** under an operator's silence: kept in state and on the live stream, never sent to sinks */
  silenced?: true;
  /** the result that caused the change (its values fill templates) */
  result: CheckResult;
  /** deterministic id: same endpoint + same transition time = same id (dedup key downstream) */
  id: string;
}
