/**
 * Lag shedding decisions of one worker (pure, clock-free: every time comes in as an argument;
 * docs/CLUSTER.md "Shedding").
 *
 * Fed once a second with the engine's per-job lag (each job's smallest lag of its last 3 checks,
 * so one late check never counts). A job is behind when its lag exceeds min(1 s, 10% of its
 * interval). Overloaded = at least `behindFraction` of the jobs behind. After `windowMs` of
 * continuous overload the worker starts shedding (stops claiming) and asks to shed down to a
 * target rate, estimated from how fast the lag grew over the window: with a FIFO backlog, a worker
 * serving C checks/s while owning D checks/s sees its lag grow by D/C − 1 seconds per second, so
 * C = D / (1 + slope); the target keeps `headroom` × C so that the backlog drains. Every further
 * window still overloaded and not draining (slope > −0.1) sheds again with a new estimate; a
 * draining backlog (lag falling) sheds nothing more.
 *
 * Hysteresis: shedding ends only after no job was behind for `recoverWindowMs`; the rate the
 * worker kept after shedding becomes its rate cap (published; claims and moves never take it
 * above) for `capHoldMs`, so the rebalancer does not hand it back what it just could not serve.
 */

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

export interface LagStat {
  lagMs: number;
  intervalMs: number;
}

export interface ShedStep {
  /** shed jobsets until the owned rate is at most this (checks/s); null = shed nothing now */
  targetRate: number | null;
  /** `shedding` or `rateCap` changed: publish the worker record */
  changed: boolean;
  behind: number;
  /** lag growth over the last window, seconds per second (null when no window completed) */
  slope: number | null;
}

/** The lag above which a job is behind: the smaller of 1 s and 10% of its interval. */
export function behindThresholdMs(intervalMs: number): number {
  return Math.min(1000, 0.1 * intervalMs);
}

export class ShedController {
  shedding = false;
  /** checks/s this worker takes at most (null: no cap) */
  rateCap: number | null = null;
  private capUntil = 0;
  private overloadSince: number | null = null;
  private lagAtWindowStart = 0;
  private healthySince: number | null = null;

  constructor(private readonly t: ShedTuning) {}

  /** One lag report. `ownRate` = checks/s of the jobsets this worker owns now. */
  update(stats: ReadonlyMap<string, LagStat>, ownRate: number, now: number): ShedStep {
    let behind = 0;
    const lags: number[] = [];
    for (const s of stats.values()) {
      if (s.lagMs > behindThresholdMs(s.intervalMs)) behind++;
      lags.push(s.lagMs);
    }
    lags.sort((a, b) => a - b);
    const median = lags.length === 0 ? 0 : (lags[Math.floor(lags.length / 2)] ?? 0);
    const overloaded = stats.size > 0 && behind / stats.size >= this.t.shedBehindFraction;
    if (overloaded) {
      if (this.overloadSince === null) {
        this.overloadSince = now;
        this.lagAtWindowStart = median;
      }
      this.healthySince = null;
    } else {
      this.overloadSince = null;
      this.healthySince = behind === 0 ? (this.healthySince ?? now) : null;
    }
    const step: ShedStep = { targetRate: null, changed: false, behind, slope: null };
    if (this.overloadSince !== null && now - this.overloadSince >= this.t.shedWindowMs) {
      const slope = (median - this.lagAtWindowStart) / Math.max(1, now - this.overloadSince);
      step.slope = slope;
      if (!this.shedding) {
        this.shedding = true;
        step.changed = true;
      }
      if (slope > -0.1) step.targetRate = (ownRate / (1 + Math.max(0, slope))) * this.t.shedHeadroom;
      this.overloadSince = now; // the next decision only after another full window
      this.lagAtWindowStart = median;
    } else if (
      this.shedding &&
      this.healthySince !== null &&
      now - this.healthySince >= this.t.recoverWindowMs
    ) {
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
