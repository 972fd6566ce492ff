import { performance } from 'node:perf_hooks';

/**
 * Time source, injected wherever behaviour depends on time so tests run without sleeping.
 *
 * Two readings: `now()` is the wall clock (epoch ms), which can step either way (NTP at boot, a VM
 * restored from a snapshot, a manual fix); it only names slots and stamps results. `monotonic()`
 * never steps: timers, lease deadlines, lag windows and backoffs are measured on it.
 */
export interface Clock {
  /** wall clock, epoch ms */
  now(): number;
  /** monotonic ms since an arbitrary origin; never goes back, never jumps with the wall clock */
  monotonic(): number;
  /** fires after `ms` of monotonic time */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export type TimerHandle = { readonly __timer: unique symbol } | object;

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  // Node's timers run on libuv's monotonic clock: a wall-clock step does not move them.
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t as unknown as TimerHandle;
  },
  clearTimeout: (h) => clearTimeout(h as unknown as NodeJS.Timeout),
};

/**
 * Manual clock for tests: time moves only through advance() (both readings) and stepWall() (the
 * wall clock alone, as an NTP step does). Timers are due on the monotonic reading.
 */
export class FakeClock implements Clock {
  private wall: number;
  private mono = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.wall = start;
  }

  now(): number {
    return this.wall;
  }

  monotonic(): number {
    return this.mono;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at: this.mono + Math.max(0, ms), fn });
    return { id } as unknown as TimerHandle;
  }

  clearTimeout(h: TimerHandle): void {
    this.timers.delete((h as unknown as { id: number }).id);
  }

  /** Move time forward by ms, firing due timers in order (timers set by callbacks fire too if due). */
  advance(ms: number): void {
    const end = this.mono + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      if (next[1].at > this.mono) {
        this.wall += next[1].at - this.mono;
        this.mono = next[1].at;
      }
      next[1].fn();
    }
    this.wall += end - this.mono;
    this.mono = end;
  }

  /** Step the wall clock by ms (negative: back); monotonic time and timers do not move. */
  stepWall(ms: number): void {
    this.wall += ms;
  }

  pendingTimers(): number {
    return this.timers.size;
  }
}
