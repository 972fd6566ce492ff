/**
 * Episodes of local faults: checks this worker could not carry out (`local: EMFILE`, a dead
 * thread, ...). The first such result opens an episode (`worker_degraded`); `quietMs` without one
 * closes it (`worker_recovered`). While local errors are the majority of the results of the last
 * `windowMs`, the worker is `dominated` and should take no more work. All times are monotonic.
 */
import { isLocalReason, localCodeOf, SHUTDOWN } from '../checks/reasons.js';
import type { Clock, TimerHandle } from '../model/clock.js';
import type { CheckResult } from '../model/result.js';

export interface LocalFaultEpisode {
  degraded: boolean;
  /** code of the first local error of the episode (opening) or of the last one (closing) */
  code: string;
  /** local errors in the episode so far */
  count: number;
  /** monotonic ms the episode has lasted (0 when it opens) */
  durationMs: number;
}

export interface LocalFaultOptions {
  clock: Clock;
  onEpisode(e: LocalFaultEpisode): void;
  /** called when `dominated` changes */
  onDominated?(dominated: boolean): void;
  /** a local-error-free stretch that ends an episode, ms [30,000] */
  quietMs?: number;
  /** window for `dominated`, ms [10,000] */
  windowMs?: number;
}

const BUCKET_MS = 1000;

export class LocalFaultMonitor {
  private readonly quietMs: number;
  private readonly buckets: number;
  private readonly local: Uint32Array;
  private readonly total: Uint32Array;
  private readonly bucketAt: Float64Array;
  private episode: { startedAt: number; count: number; code: string } | null = null;
  private lastLocalAt = 0;
  private timer: TimerHandle | null = null;
  private isDominated = false;
  private closed = false;

  constructor(private readonly opts: LocalFaultOptions) {
    this.quietMs = opts.quietMs ?? 30_000;
    this.buckets = Math.max(1, Math.ceil((opts.windowMs ?? 10_000) / BUCKET_MS));
    this.local = new Uint32Array(this.buckets);
    this.total = new Uint32Array(this.buckets);
    this.bucketAt = new Float64Array(this.buckets).fill(-1);
  }

  get degraded(): boolean {
    return this.episode !== null;
  }

  get dominated(): boolean {
    return this.isDominated;
  }

  /** Every result goes through here. A local `shutdown` is the worker stopping, not a fault. */
  observe(r: CheckResult): void {
    if (this.closed) return;
    const local = isLocalReason(r.error) && r.error !== SHUTDOWN;
    const now = this.opts.clock.monotonic();
    const b = Math.floor(now / BUCKET_MS);
    const i = b % this.buckets;
    if (this.bucketAt[i] !== b) {
      this.bucketAt[i] = b;
      this.local[i] = 0;
      this.total[i] = 0;
    }
    this.total[i]!++;
    if (local) {
      this.local[i]!++;
      this.lastLocalAt = now;
      const code = localCodeOf(r.error as string);
      if (!this.episode) {
        this.episode = { startedAt: now, count: 1, code };
        this.opts.onEpisode({ degraded: true, code, count: 1, durationMs: 0 });
        this.armQuiet(this.quietMs);
      } else {
        this.episode.count++;
        this.episode.code = code;
      }
    }
    this.updateDominated(b);
  }

  close(): void {
    this.closed = true;
    if (this.timer) this.opts.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private updateDominated(current: number): void {
    let local = 0;
    let total = 0;
    for (let i = 0; i < this.buckets; i++) {
      if (this.bucketAt[i]! > current - this.buckets) {
        local += this.local[i]!;
        total += this.total[i]!;
      }
    }
    const dominated = total > 0 && local * 2 > total;
    if (dominated !== this.isDominated) {
      this.isDominated = dominated;
      this.opts.onDominated?.(dominated);
    }
  }

  private armQuiet(ms: number): void {
    if (this.timer) this.opts.clock.clearTimeout(this.timer);
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = null;
      const ep = this.episode;
      if (!ep || this.closed) return;
      const now = this.opts.clock.monotonic();
      const left = this.lastLocalAt + this.quietMs - now;
      if (left > 0) return this.armQuiet(left);
      this.episode = null;
      this.updateDominated(Math.floor(now / BUCKET_MS));
      this.opts.onEpisode({
        degraded: false,
        code: ep.code,
        count: ep.count,
        durationMs: now - ep.startedAt,
      });
    }, ms);
  }
}
