/**
 * Lag bookkeeping (lag = started_at - scheduled_at, measured where the check starts). Pure and
 * clock-driven: every time comes in as an argument. The engine passes monotonic times (ms), so a
 * wall-clock step neither empties nor freezes the windows; any ms timeline works.
 *
 * Window: per job, the last `perJob` samples (default 16) not older than `maxAgeMs` (default
 * 10 min) at the time asked. A count window (not only a time window) so that slow schedules
 * (a cron every hour) still have a meaningful "sustained" test.
 *
 * Sustained: `behind(id, intervalMs, now)` is true when the job has at least `sustain` samples
 * (default 3) in its window and the last `sustain` of them all exceed `lagThresholdMs(intervalMs)`.
 * One late check (GC pause) is not "behind"; three in a row are.
 *
 * p99: over a global ring of the most recent `globalSamples` lags (default 4096) of all jobs, not
 * older than `maxAgeMs`.
 */
import { intOption, numberOption } from '../model/option-checks.js';

export interface LagTrackerOptions {
  perJob?: number;
  sustain?: number;
  maxAgeMs?: number;
  globalSamples?: number;
}

/** The lag above which a job counts as late: the smaller of 1 s and 10% of its interval. */
export function lagThresholdMs(intervalMs: number): number {
  return Math.min(1000, 0.1 * intervalMs);
}

/** A ring of (lag, at) samples in shared typed arrays: positions [base, base + capacity). */
interface Ring {
  lag: Float32Array;
  /** seconds on the caller's timeline (the engine: monotonic): ages are judged against a window of minutes */
  at: Uint32Array;
  base: number;
  capacity: number;
  /** samples written so far (next write index = base + n % capacity) */
  n: number;
}

/**
 * Every job's ring lives in two typed arrays shared by all jobs (slot s = positions
 * [s * perJob, (s + 1) * perJob)), grown by doubling; a removed job's slot is reused. Two
 * Float64Array(16) per job cost ~600 bytes of object and backing-store overhead each: with
 * 10,000 jobs that was ~6 MB of main-thread heap. Lags are kept as float32 (ms: exact enough) and
 * times as epoch seconds (the window is minutes): 2 MB at 10,000 jobs instead of 4.
 */
class RingSlab {
  lag = new Float32Array(0);
  at = new Uint32Array(0);
  private slots = 0;
  private used = 0;
  private readonly free: number[] = [];
  constructor(private readonly perJob: number) {}

  alloc(): Ring {
    let slot = this.free.pop();
    if (slot === undefined) {
      if (this.used === this.slots) this.grow(Math.max(64, this.slots * 2));
      slot = this.used++;
    }
    return { lag: this.lag, at: this.at, base: slot * this.perJob, capacity: this.perJob, n: 0 };
  }

  release(ring: Ring): void {
    this.free.push(ring.base / this.perJob);
  }

  /** Rings hold references to the arrays; after a grow they are re-pointed by the caller. */
  private grow(slots: number): void {
    const lag = new Float32Array(slots * this.perJob);
    const at = new Uint32Array(slots * this.perJob);
    lag.set(this.lag);
    at.set(this.at);
    this.lag = lag;
    this.at = at;
    this.slots = slots;
  }
}

export class LagTracker {
  private readonly perJob: number;
  private readonly sustain: number;
  private readonly maxAgeMs: number;
  private readonly jobs = new Map<string, Ring>();
  private readonly slab: RingSlab;
  private readonly global: Ring;

  constructor(opts: LagTrackerOptions = {}) {
    this.perJob = intOption('perJob', opts.perJob, 16, 1);
    this.sustain = intOption('sustain', opts.sustain, Math.min(3, this.perJob), 1);
    if (this.sustain > this.perJob)
      throw new RangeError(`sustain must be at most perJob (${this.perJob}), got ${this.sustain}`);
    this.maxAgeMs = numberOption('maxAgeMs', opts.maxAgeMs, 600_000, 0);
    this.slab = new RingSlab(this.perJob);
    const cap = intOption('globalSamples', opts.globalSamples, 4096, 1);
    this.global = { lag: new Float32Array(cap), at: new Uint32Array(cap), base: 0, capacity: cap, n: 0 };
  }

  /** Same as the exported lagThresholdMs. */
  static threshold(intervalMs: number): number {
    return lagThresholdMs(intervalMs);
  }

  threshold(intervalMs: number): number {
    return lagThresholdMs(intervalMs);
  }

  /** Record the lag of one check of job `id` observed at `at` (ms). */
  record(id: string, lagMs: number, at: number): void {
    let ring = this.jobs.get(id);
    if (!ring) {
      ring = this.slab.alloc();
      this.jobs.set(id, ring);
    }
    push(this.fresh(ring), lagMs, at);
    push(this.global, lagMs, at);
  }

  /** Lags of the job in its window, oldest first. */
  recent(id: string, now: number): number[] {
    const ring = this.jobs.get(id);
    return ring ? samples(this.fresh(ring), now - this.maxAgeMs) : [];
  }

  /**
   * Smallest of the job's last `k` lags in its window (undefined without any): the engine's
   * once-a-second view of every job, so it allocates nothing.
   */
  minOfLast(id: string, k: number, now: number): number | undefined {
    const ring = this.jobs.get(id);
    if (!ring || ring.n === 0) return undefined;
    const r = this.fresh(ring);
    const notBeforeSec = Math.floor((now - this.maxAgeMs) / 1000);
    const count = Math.min(r.n, r.capacity);
    let min: number | undefined;
    let seen = 0;
    for (let j = r.n - 1; j >= r.n - count && seen < k; j--) {
      const i = r.base + (j % r.capacity);
      if (r.at[i]! < notBeforeSec) break;
      const v = r.lag[i]!;
      if (min === undefined || v < min) min = v;
      seen++;
    }
    return min;
  }

  /** Most recent lag of the job, or undefined. */
  latest(id: string): number | undefined {
    const ring = this.jobs.get(id);
    if (!ring || ring.n === 0) return undefined;
    return this.fresh(ring).lag[ring.base + ((ring.n - 1) % ring.capacity)];
  }

  /** True when the job's lag stayed above the threshold for its last `sustain` samples (see module comment). */
  behind(id: string, intervalMs: number, now: number): boolean {
    const lags = this.recent(id, now);
    if (lags.length < this.sustain) return false;
    const limit = lagThresholdMs(intervalMs);
    for (let i = lags.length - this.sustain; i < lags.length; i++) if (lags[i]! <= limit) return false;
    return true;
  }

  /** 99th percentile (nearest rank) of recent lags of all jobs, or null when there are none. */
  p99(now: number): number | null {
    const all = samples(this.global, now - this.maxAgeMs);
    if (all.length === 0) return null;
    all.sort((a, b) => a - b);
    return all[Math.min(all.length - 1, Math.ceil(0.99 * all.length) - 1)]!;
  }

  /** Forget a job (removed or handed over). */
  remove(id: string): void {
    const ring = this.jobs.get(id);
    if (!ring) return;
    this.jobs.delete(id);
    this.slab.release(ring);
  }

  /** Jobs with samples. */
  ids(): IterableIterator<string> {
    return this.jobs.keys();
  }

  /** The ring pointing at the slab's current arrays (they are replaced when the slab grows). */
  private fresh(ring: Ring): Ring {
    if (ring.lag !== this.slab.lag) {
      ring.lag = this.slab.lag;
      ring.at = this.slab.at;
    }
    return ring;
  }
}

function push(ring: Ring, lag: number, at: number): void {
  const i = ring.base + (ring.n % ring.capacity);
  ring.lag[i] = lag;
  ring.at[i] = Math.floor(at / 1000);
  ring.n++;
}

function samples(ring: Ring, notBefore: number): number[] {
  const notBeforeSec = Math.floor(notBefore / 1000);
  const cap = ring.capacity;
  const count = Math.min(ring.n, cap);
  const out: number[] = [];
  for (let k = ring.n - count; k < ring.n; k++) {
    const i = ring.base + (k % cap);
    if (ring.at[i]! >= notBeforeSec) out.push(ring.lag[i]!);
  }
  return out;
}
