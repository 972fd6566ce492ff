/**
 * Lag shedding decisions of one worker (pure, clock-free: every time comes in as an argument;
 * docs/CLUSTER.md "Shedding").
 *
 * Whether the worker is overloaded is the OverloadDetector's verdict (src/engine/overload.ts,
 * the same rule the engine uses for its lag_high / lag_ok events). On each decision point of an
 * overload episode the worker asks to shed down to `headroom` × its serviceable rate, estimated
 * as the lower of two readings: the checks/s it actually completed over the window (with one
 * pending check per endpoint a saturated worker completes what it can serve), and, for a FIFO
 * backlog, D / (1 + slope) where the lag grows by D/C − 1 seconds per second. A window whose lag
 * is draining (slope ≤ −0.1) sheds nothing more.
 *
 * Hysteresis: shedding ends with the episode (no job behind for the recovery window); the rate
 * the worker kept after shedding becomes its rate cap (published; claims and moves never take it
 * above) for `capHoldMs`, so the rebalancer does not hand it back what it just could not serve.
 */
import { OverloadDetector, type OverloadReading } from '../../engine/overload.js';
import { type Candidate, planClaims } from './plan.js';

export type { LagStat } from '../../engine/overload.js';

export interface ShedTuning {
  /** fraction of owned jobs behind their threshold that counts as overloaded */
  shedBehindFraction: number;
  /** overloaded this long → shed (then again per window while overloaded and not draining) */
  shedWindowMs: number;
  /** shedding ends after no job was behind for this long */
  recoverWindowMs: number;
  /** keep this fraction of the estimated service rate when shedding */
  shedHeadroom: number;
  /** how long the rate kept after shedding stays a cap */
  rateCapHoldMs: number;
}

export interface ShedStep {
  /** shed jobsets until the owned rate is at most this (checks/s); null = shed nothing now */
  targetRate: number | null;
  /** `shedding` or `rateCap` changed: publish the worker record */
  changed: boolean;
  behind: number;
  /** lag growth over the last window, seconds per second (null when no window completed) */
  slope: number | null;
  reading: OverloadReading;
}

export class ShedController {
  shedding = false;
  /** checks/s this worker takes at most (null: no cap) */
  rateCap: number | null = null;
  /** the latest reading (overload episode, served rate) */
  last: OverloadReading | null = null;
  private capUntil = 0;
  private readonly detector: OverloadDetector;

  constructor(private readonly t: ShedTuning) {
    this.detector = new OverloadDetector({
      behindFraction: t.shedBehindFraction,
      windowMs: t.shedWindowMs,
      recoverWindowMs: t.recoverWindowMs,
    });
  }

  /**
   * One lag report. `ownRate` = checks/s of the jobsets this worker owns now; `completed` =
   * checks completed since the previous report (absent: estimate from the lag slope alone).
   */
  update(
    stats: ReadonlyMap<string, { lagMs: number; intervalMs: number }>,
    ownRate: number,
    now: number,
    completed?: number,
  ): ShedStep {
    const reading = this.detector.update(stats, now, completed);
    this.last = reading;
    const step: ShedStep = {
      targetRate: null,
      changed: false,
      behind: reading.behind,
      slope: reading.slope,
      reading,
    };
    if (reading.decision) {
      if (!this.shedding) {
        this.shedding = true;
        step.changed = true;
      }
      const slope = reading.slope ?? 0;
      if (slope > -0.1) {
        const fromLag = ownRate / (1 + Math.max(0, slope));
        const served = reading.servedRate ?? Number.POSITIVE_INFINITY;
        step.targetRate = Math.min(fromLag, served) * this.t.shedHeadroom;
      }
    } else if (this.shedding && !reading.overloaded) {
      this.shedding = false;
      step.changed = true;
    }
    if (!this.shedding && this.rateCap !== null && now >= this.capUntil) {
      this.rateCap = null;
      step.changed = true;
    }
    return step;
  }

  /** After shedding: the rate kept becomes the cap (the lowest of this episode). */
  shed(keptRate: number, now: number): void {
    const kept = Math.round(keptRate * 1000) / 1000;
    this.rateCap = this.rateCap === null ? kept : Math.min(this.rateCap, kept);
    this.capUntil = now + this.t.rateCapHoldMs;
  }
}

/** A jobset as the shed pick sees it. */
export interface ShedCandidate {
  id: string;
  /** jobs in it */
  count: number;
  /** checks/s it demands */
  rate: number;
}

/**
 * Which owned jobsets to release to get from `ownRate` down to at most `target` checks/s (at
 * least one): the most expensive first, and of those only the ones another live worker has room
 * for (water-filled over `others` like the claim plan); the rest is kept.
 */
export function pickShed(
  owned: ShedCandidate[],
  ownRate: number,
  target: number,
  others: Candidate[],
): ShedCandidate[] {
  const byCost = [...owned].sort((a, b) => b.rate - a.rate || b.count - a.count || (a.id < b.id ? -1 : 1));
  const picks: ShedCandidate[] = [];
  let rate = ownRate;
  for (const js of byCost) {
    if (rate <= target + 1e-9 && picks.length > 0) break;
    picks.push(js);
    rate -= js.rate;
  }
  const plan = planClaims(
    picks.map((j) => ({ id: j.id, jobs: j.count, rate: j.rate })),
    others,
  );
  return picks.filter((js) => (plan.get(js.id)?.length ?? 0) > 0);
}
