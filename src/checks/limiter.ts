/**
 * FIFO limiter of the checks running at once in one thread, whose limit gives way to descriptor
 * exhaustion: a check that failed with `local: EMFILE` / `ENFILE` halves the limit (at most once
 * per `cutEveryMs`, never below 1) and every other completed check raises it by 1/limit (about
 * one per round of checks) back up to `max`. So a descriptor limit the fd budget did not foresee
 * (another process in the container, a lower hard limit, a test hook) makes checks queue instead
 * of failing one after another, and leaves descriptors free for the sinks and the status server.
 */
import { isLocalReason, localCodeOf } from './reasons.js';

const EXHAUSTED = new Set(['EMFILE', 'ENFILE']);

/** True when the reason says the process or the system ran out of file descriptors. */
export function outOfDescriptors(reason: string | null): boolean {
  return isLocalReason(reason) && EXHAUSTED.has(localCodeOf(reason as string));
}

export class CheckLimiter {
  private running = 0;
  private current: number;
  private lastCutAt = Number.NEGATIVE_INFINITY;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly max: number,
    private readonly now: () => number = performance.now.bind(performance),
    private readonly cutEveryMs = 100,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`max must be an integer >= 1, got ${max}`);
    this.current = max;
  }

  /** The limit now (whole checks). */
  get limit(): number {
    return Math.max(1, Math.floor(this.current));
  }

  /** Runs `fn` when a place is free; `fn` resolves with the check's failure reason (null = ok). */
  run(fn: () => Promise<string | null>): void {
    this.waiting.push(() => {
      this.running++;
      fn()
        .then(
          (reason) => this.completed(reason),
          () => this.completed(null),
        )
        .finally(() => {
          this.running--;
          this.drain();
        });
    });
    this.drain();
  }

  private completed(reason: string | null): void {
    if (outOfDescriptors(reason)) {
      const t = this.now();
      if (t - this.lastCutAt >= this.cutEveryMs) {
        this.lastCutAt = t;
        this.current = Math.max(1, this.current / 2);
      }
    } else if (this.current < this.max) {
      this.current = Math.min(this.max, this.current + 1 / this.current);
    }
  }

  private drain(): void {
    while (this.running < this.limit && this.waiting.length > 0) this.waiting.shift()!();
  }
}
