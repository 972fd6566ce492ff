/**
 * CheckDeadline: a minimal abort signal with a built-in timer, for runCheck. Implements the
 * ProbeSignal subset of AbortSignal at a fraction of an AbortController's cost.
 */
import type { ProbeSignal } from './probe.js';

export class CheckDeadline implements ProbeSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: Array<() => void> | null = null;
  private timer: NodeJS.Timeout | null;

  constructor(ms: number, timeoutReason: () => unknown) {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.abort(timeoutReason());
    }, ms);
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.clear();
    const ls = this.listeners;
    this.listeners = null;
    if (ls) for (const l of ls) l();
  }

  /** Stops the timer; the deadline can no longer fire by itself. */
  clear(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    if (this.listeners === null) this.listeners = [listener];
    else this.listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const ls = this.listeners;
    if (ls === null) return;
    const i = ls.indexOf(listener);
    if (i >= 0) ls.splice(i, 1);
  }
}
