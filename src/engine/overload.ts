/**
 * Is this worker falling behind? (pure, clock-free: every time comes in as an argument;
 * docs/CLUSTER.md "Falling behind").
 *
 * Fed once a second with each job's lag (the smallest of its last 3 checks, so one late check
 * never counts) and the number of checks completed since the last call. A job is behind when its
 * lag exceeds `lagThresholdMs(interval)` (min(1 s, 10% of the interval)). The worker is
 * overloaded after `windowMs` during which at least `behindFraction` of its jobs were behind
 * without a break, and stays overloaded until no job was behind for `recoverWindowMs`
 * (hysteresis: one quiet second does not end an episode, one late second does not start one).
 *
 * While overloaded, every full window is a decision point (`decision`), with the median lag's
 * growth over that window (`slope`) and the checks/s actually completed over it (`servedRate`):
 * with at most one pending check per endpoint a saturated worker completes what it can serve,
 * so that rate is its serviceable rate.
 */
import { lagThresholdMs } from '../schedule/index.js';

export interface OverloadTuning {
  /** fraction of owned jobs behind their threshold that counts as overloaded */
  behindFraction: number;
  /** overloaded this long without a break → an episode starts (then a decision per window) */
  windowMs: number;
  /** an episode ends after no job was behind for this long */
  recoverWindowMs: number;
}

export const DEFAULT_OVERLOAD_TUNING: OverloadTuning = {
  behindFraction: 0.05,
  windowMs: 5000,
  recoverWindowMs: 30_000,
};

export interface LagStat {
  lagMs: number;
  intervalMs: number;
}

export interface OverloadReading {
  jobs: number;
  behind: number;
  /** inside an overload episode */
  overloaded: boolean;
  /** epoch ms the current episode's first overloaded second was seen (null outside an episode) */
  since: number | null;
  /** a full window of overload just completed (the first one starts the episode) */
  decision: boolean;
  /** median lag growth over the completed window, seconds per second (null when no decision) */
  slope: number | null;
  /** checks completed per second over the last window (null until completions were reported) */
  servedRate: number | null;
  /** the episode started ('high') or ended ('ok') with this reading */
  transition: 'high' | 'ok' | null;
}

export class OverloadDetector {
  private overloaded = false;
  private since: number | null = null;
  private windowStart: number | null = null;
  private lagAtWindowStart = 0;
  private healthySince: number | null = null;
  /** (time, completed since the previous sample) over about one window */
  private samples: Array<{ at: number; n: number }> = [];
  private sawCompletions = false;

  constructor(private readonly t: OverloadTuning = DEFAULT_OVERLOAD_TUNING) {}

  update(stats: ReadonlyMap<string, LagStat>, now: number, completed?: number): OverloadReading {
    let behind = 0;
    const lags: number[] = [];
    for (const s of stats.values()) {
      if (s.lagMs > lagThresholdMs(s.intervalMs)) behind++;
      lags.push(s.lagMs);
    }
    lags.sort((a, b) => a - b);
    const median = lags.length === 0 ? 0 : (lags[Math.floor(lags.length / 2)] ?? 0);
    const servedRate = this.served(now, completed);

    const late = stats.size > 0 && behind / stats.size >= this.t.behindFraction;
    if (late) {
      if (this.windowStart === null) {
        this.windowStart = now;
        this.lagAtWindowStart = median;
        if (!this.overloaded) this.since = now;
      }
      this.healthySince = null;
    } else {
      this.windowStart = null;
      if (!this.overloaded) this.since = null;
      this.healthySince = behind === 0 ? (this.healthySince ?? now) : null;
    }
    const r: OverloadReading = {
      jobs: stats.size,
      behind,
      overloaded: this.overloaded,
      since: this.since,
      decision: false,
      slope: null,
      servedRate,
      transition: null,
    };
    if (this.windowStart !== null && now - this.windowStart >= this.t.windowMs) {
      r.decision = true;
      r.slope = (median - this.lagAtWindowStart) / Math.max(1, now - this.windowStart);
      if (!this.overloaded) {
        this.overloaded = true;
        r.transition = 'high';
      }
      this.windowStart = now; // the next decision only after another full window
      this.lagAtWindowStart = median;
    } else if (
      this.overloaded &&
      this.healthySince !== null &&
      now - this.healthySince >= this.t.recoverWindowMs
    ) {
      this.overloaded = false;
      this.since = null;
      r.transition = 'ok';
    }
    r.overloaded = this.overloaded;
    r.since = this.since;
    return r;
  }

  private served(now: number, completed: number | undefined): number | null {
    if (completed === undefined) return this.sawCompletions ? this.rate(now) : null;
    this.sawCompletions = true;
    this.samples.push({ at: now, n: completed });
    const from = now - this.t.windowMs;
    while (this.samples.length > 2 && this.samples[1]!.at <= from) this.samples.shift();
    return this.rate(now);
  }

  /** Completions per second over the samples kept (the first one opens the span). */
  private rate(now: number): number | null {
    if (this.samples.length < 2) return null;
    const first = this.samples[0]!;
    const span = now - first.at;
    if (span <= 0) return null;
    let n = 0;
    for (let i = 1; i < this.samples.length; i++) n += this.samples[i]!.n;
    return (n * 1000) / span;
  }
}
