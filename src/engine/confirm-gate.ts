/**
 * "Second opinion before DOWN" (`confirm: 1`), the engine's side: holds the failed result that
 * would make an endpoint DOWN until another worker has run the same check (through a
 * `Confirmer`, cluster: `cluster/etcd/confirm.ts`). Only DOWN candidates are held, so the
 * confirmation traffic grows with DOWN candidates, never with the check rate.
 *
 * - the other worker fails too (`confirmed`) → the result goes on as usual: DOWN;
 * - it succeeds (`refuted`) → the result is marked `unconfirmed: true`, is not applied to the alert
 *   state (no DOWN, no alert) and the owner's own reachability problem is reported (`onRefuted`);
 *   after `moveAfter` refutations in a row the endpoint should move to another worker;
 * - nobody answered in time, or there is nobody to ask (`no_answer`, `unavailable`) → DOWN as
 *   without `confirm`: a lone or cut-off worker must still page for a real outage. The result says
 *   so in `confirm.outcome`.
 *
 * Results of the endpoint that arrive while a verdict is pending wait behind it, in order, so the
 * alert state sees them in slot order (bounded: at most one pending check per endpoint, and a
 * verdict comes within the confirmer's bound).
 */
import { isLocalReason } from '../checks/reasons.js';
import type { AlertState } from '../model/alert.js';
import type { Endpoint } from '../model/endpoint.js';
import type { Logger } from '../model/logger.js';
import type { CheckResult, ConfirmOutcome } from '../model/result.js';

export interface ConfirmVerdict {
  outcome: ConfirmOutcome;
  /** worker that ran the check (null: nobody answered) */
  by: string | null;
  /** that worker's reason when it failed too; null when it succeeded or nobody answered */
  error: string | null;
}

/** Asks one other worker to run the check of `endpoint` now. Resolves (never rejects) within its own bound. */
export interface Confirmer {
  confirm(endpoint: Endpoint, failed: CheckResult): Promise<ConfirmVerdict>;
}

export interface ConfirmGateDeps {
  confirmer: () => Confirmer | null;
  logger: Logger;
  /** refutations in a row after which `onMoveAway` is called (default 3) */
  moveAfter?: number;
  /** this worker failed a check another worker passed (a `self` event) */
  onRefuted?(endpoint: Endpoint, r: CheckResult, verdict: ConfirmVerdict, streak: number): void;
  /** `moveAfter` refutations in a row: give the endpoint to another worker */
  onMoveAway?(endpoint: Endpoint, r: CheckResult, verdict: ConfirmVerdict): void;
}

/** `apply` = false: the result is delivered but must not change the alert state. */
export type Deliver = (r: CheckResult, apply: boolean) => void;

export const DEFAULT_MOVE_AFTER = 3;

export class ConfirmGate {
  private readonly waiting = new Map<string, CheckResult[]>();
  private readonly streaks = new Map<string, number>();
  private readonly moveAfter: number;

  constructor(private readonly deps: ConfirmGateDeps) {
    this.moveAfter = Math.max(1, deps.moveAfter ?? DEFAULT_MOVE_AFTER);
  }

  /**
   * Offers a result. Returns false when the gate does not hold it (the caller delivers it now),
   * true when it did (it calls `deliver` later, exactly once for this result).
   */
  offer(
    endpoint: Endpoint,
    r: CheckResult,
    stateOf: () => AlertState | undefined,
    deliver: Deliver,
  ): boolean {
    const queue = this.waiting.get(endpoint.name);
    if (queue) {
      queue.push(r);
      return true;
    }
    if (r.ok) this.streaks.delete(endpoint.name);
    if (!isDownCandidate(endpoint, r, stateOf())) return false;
    const confirmer = this.deps.confirmer();
    if (!confirmer) {
      deliver({ ...r, confirm: { outcome: 'unavailable', by: null, error: null } }, true);
      return true;
    }
    this.waiting.set(endpoint.name, []);
    void confirmer
      .confirm(endpoint, r)
      .catch((err: unknown): ConfirmVerdict => {
        this.deps.logger.warn({ err, endpoint: endpoint.name }, 'confirmation failed; deciding alone');
        return { outcome: 'no_answer', by: null, error: null };
      })
      .then((v) => this.settle(endpoint, r, v, stateOf, deliver));
    return true;
  }

  /** Results held for an endpoint (tests, status). */
  holding(name: string): number {
    const q = this.waiting.get(name);
    return q ? q.length + 1 : 0;
  }

  /** The endpoint is no longer owned here: its streak starts again if it comes back. */
  forget(name: string): void {
    this.streaks.delete(name);
  }

  private settle(
    endpoint: Endpoint,
    r: CheckResult,
    v: ConfirmVerdict,
    stateOf: () => AlertState | undefined,
    deliver: Deliver,
  ): void {
    const queued = this.waiting.get(endpoint.name) ?? [];
    this.waiting.delete(endpoint.name);
    const marked: CheckResult = { ...r, confirm: { outcome: v.outcome, by: v.by, error: v.error } };
    if (v.outcome === 'refuted') {
      const streak = (this.streaks.get(endpoint.name) ?? 0) + 1;
      this.streaks.set(endpoint.name, streak);
      deliver({ ...marked, unconfirmed: true }, false);
      this.deps.onRefuted?.(endpoint, marked, v, streak);
      if (streak >= this.moveAfter) {
        this.streaks.delete(endpoint.name);
        this.deps.onMoveAway?.(endpoint, marked, v);
      }
    } else {
      if (v.outcome === 'confirmed') this.streaks.delete(endpoint.name);
      deliver(marked, true);
    }
    // The rest in order; the first DOWN candidate among them is held again.
    for (const next of queued) {
      if (!this.offer(endpoint, next, stateOf, deliver)) deliver(next, true);
    }
  }
}

/** A failure that would make the endpoint DOWN now (the alert state machine's own rule). */
export function isDownCandidate(endpoint: Endpoint, r: CheckResult, state: AlertState | undefined): boolean {
  if ((endpoint.confirm ?? 0) < 1 || r.ok || isLocalReason(r.error)) return false;
  if (!state || state.state === 'DOWN' || r.scheduled_at < state.since) return false;
  const threshold = Math.max(1, Math.floor(endpoint.alert.failureThreshold));
  return state.consecutiveFailures + 1 >= threshold;
}
