/**
 * The per-endpoint alert state machine. Pure: (state, result, policy) -> (state, change).
 *
 * Counters: a success increments consecutiveSuccesses and zeroes consecutiveFailures; a failure
 * does the opposite. They keep counting after a transition (the status can show "down for 17
 * checks"); only the opposite result resets them.
 *
 * Transitions (thresholds below 1 count as 1):
 * - UNKNOWN -> UP   after `successThreshold` consecutive successes,
 *   UNKNOWN -> DOWN after `failureThreshold` consecutive failures.
 *   Both are emitted as changes. UNKNOWN -> UP is informational: sinks should not alert on it
 *   (it is the first verdict, not a recovery). UNKNOWN -> DOWN is an alert.
 * - UP -> DOWN after `failureThreshold` consecutive failures.
 * - DOWN -> UP after `successThreshold` consecutive successes.
 *
 * Time of a change (`at`, and the state's `since`) is the result's `scheduled_at`: the slot, not the
 * wall clock of the worker that ran it, so two workers running the same slot around a change of
 * owner describe the same transition identically (same StateChange id downstream).
 *
 * A result scheduled before the current state's `since` is stale (it was overtaken by the result
 * that made the transition) and is ignored: no counter moves, no change.
 *
 * `reason`: the error of the latest failure while failing (the one that made it DOWN, then the latest
 * while DOWN); null once UP again.
 */
import type { AlertState, Health } from '../model/alert.js';
import type { AlertPolicy } from '../model/endpoint.js';
import type { CheckResult } from '../model/result.js';

export interface Transition {
  from: Health;
  to: Health;
  /** epoch ms: the scheduled_at of the result that made the change */
  at: number;
  /** failure reason for a DOWN, null for an UP */
  reason: string | null;
}

export interface NextResult {
  state: AlertState;
  change: Transition | null;
}

export function initialState(endpoint: string): AlertState {
  return {
    endpoint,
    state: 'UNKNOWN',
    consecutiveFailures: 0,
    consecutiveSuccesses: 0,
    since: 0,
    reason: null,
  };
}

export function next(state: AlertState, result: CheckResult, policy: AlertPolicy): NextResult {
  if (result.scheduled_at < state.since) return { state, change: null };
  const failureThreshold = Math.max(1, Math.floor(policy.failureThreshold));
  const successThreshold = Math.max(1, Math.floor(policy.successThreshold));
  const at = result.scheduled_at;

  if (result.ok) {
    const s: AlertState = {
      ...state,
      consecutiveSuccesses: state.consecutiveSuccesses + 1,
      consecutiveFailures: 0,
    };
    if (state.state !== 'UP' && s.consecutiveSuccesses >= successThreshold) {
      return {
        state: { ...s, state: 'UP', since: at, reason: null },
        change: { from: state.state, to: 'UP', at, reason: null },
      };
    }
    // a success while still DOWN does not clear the reason it is DOWN for
    return { state: state.state === 'UP' ? { ...s, reason: null } : s, change: null };
  }

  const reason = result.error ?? 'failed';
  const s: AlertState = {
    ...state,
    consecutiveFailures: state.consecutiveFailures + 1,
    consecutiveSuccesses: 0,
    reason,
  };
  if (state.state !== 'DOWN' && s.consecutiveFailures >= failureThreshold) {
    return {
      state: { ...s, state: 'DOWN', since: at },
      change: { from: state.state, to: 'DOWN', at, reason },
    };
  }
  return { state: s, change: null };
}
