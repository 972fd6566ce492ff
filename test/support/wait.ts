/**
 * Deadline-bounded polling. Tests wait for conditions with this instead of sleeping.
 */
export interface WaitOptions {
  timeoutMs: number;
  /** Delay between attempts [100 ms]. */
  intervalMs?: number;
  /** Says what was awaited; it leads the error thrown on deadline. */
  message: string;
}

export class WaitTimeoutError extends Error {
  readonly code = 'WAIT_TIMEOUT';
  constructor(
    message: string,
    readonly lastValue: unknown,
    readonly lastError: unknown,
  ) {
    super(message);
    this.name = 'WaitTimeoutError';
  }
}

/**
 * Calls `fn` until it returns a truthy value (returned) or the deadline passes (throws
 * WaitTimeoutError naming the last value or error). A throwing `fn` counts as "not yet". A single
 * slow attempt is not cut short, so `fn` must bound its own duration.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitOptions): Promise<NonNullable<T>> {
  const interval = opts.intervalMs ?? 100;
  const deadline = Date.now() + opts.timeoutMs;
  let lastValue: unknown;
  let lastError: unknown;
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
      lastValue = value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    await delay(Math.min(interval, left));
  }
  const last =
    lastError !== undefined ? `last error: ${describe(lastError)}` : `last value: ${describe(lastValue)}`;
  throw new WaitTimeoutError(
    `${opts.message} (not met within ${opts.timeoutMs} ms, ${attempts} attempts; ${last})`,
    lastValue,
    lastError,
  );
}

/**
 * Rejects with a clear error if `promise` does not settle within `ms`. For calls that may hang
 * (e.g. a client stuck in a retry loop); the underlying work is not cancelled.
 */
export async function withTimeout<T>(promise: PromiseLike<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new WaitTimeoutError(`${what} did not settle within ${ms} ms`, undefined, undefined)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(v: unknown): string {
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 500 ? `${s.slice(0, 500)}…` : s;
  } catch {
    return String(v);
  }
}
