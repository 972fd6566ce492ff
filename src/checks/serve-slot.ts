/**
 * Which slot a check serves when it finally starts (thread side, pure).
 *
 * The engine hands on at most one check per endpoint; slots that fall due while it waits are
 * skipped (`overlap`). Under overload a check can wait several intervals in its thread before it
 * starts. Started then, it measures the target *now*: it serves the latest slot of its endpoint
 * that is due, not the one it was queued for, so the lag of the slot that runs stays below one
 * interval whatever the overload (the earlier slots stay counted as skipped).
 *
 * `everyMs` 0 = a fixed slot (cron schedules: their slots are not an arithmetic series and are
 * rarely seconds apart). `capAt` = the latest slot the engine has handed on and may still serve
 * (the main thread writes it into shared memory): a slot beyond it was not handed on yet, or now
 * belongs to another worker after a handover.
 */
export function servedSlot(scheduledAt: number, everyMs: number, now: number, capAt: number): number {
  if (everyMs <= 0) return scheduledAt;
  const until = Math.min(now, capAt);
  if (!(until - scheduledAt >= everyMs)) return scheduledAt; // also false for NaN / -Infinity
  return scheduledAt + Math.floor((until - scheduledAt) / everyMs) * everyMs;
}

/** Shared memory holding the engine's serve cap (one float64, epoch ms; -Infinity = none). */
export function createServeCap(): { buffer: SharedArrayBuffer; view: Float64Array } {
  const buffer = new SharedArrayBuffer(8);
  const view = new Float64Array(buffer);
  view[0] = Number.NEGATIVE_INFINITY;
  return { buffer, view };
}
