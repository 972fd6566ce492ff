export interface BackoffPolicy {
  /** first retry delay, ms */
  baseMs: number;
  /** cap of the exponential part, ms */
  maxMs: number;
}

/** Largest server-requested wait honoured (a broken Retry-After must not park a sink for hours). */
export const MAX_RETRY_AFTER_MS = 15 * 60_000;

/**
 * Delay before retry number `failures` (1 = first retry): exponential, capped, with "equal
 * jitter" (half fixed, half random) so that sinks failing together do not retry in lockstep.
 * A server-requested wait (Retry-After, X-RateLimit-Reset) is a floor: never retry before it.
 */
export function backoffDelay(
  failures: number,
  policy: BackoffPolicy,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
  const jittered = exp / 2 + random() * (exp / 2);
  const floor = retryAfterMs === undefined ? 0 : Math.min(Math.max(0, retryAfterMs), MAX_RETRY_AFTER_MS);
  return Math.ceil(Math.max(jittered, floor));
}
