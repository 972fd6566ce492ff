/**
 * The CheckResults the pool's main side hands on: decoded from a thread's micro-batch (wire.ts),
 * or failed by the pool itself (thread died, result lost, shutdown).
 */
import type { CheckResult } from '../model/result.js';
import { NUMS_PER_RESULT, type ResultMessage } from './wire.js';

const NO_VALUES: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** Entry `j` of a micro-batch, as the result of `endpoint` run by `worker`. */
export function decodedResult(m: ResultMessage, j: number, endpoint: string, worker: string): CheckResult {
  const o = j * NUMS_PER_RESULT;
  const status = m.nums[o + 5]!;
  return {
    endpoint,
    scheduled_at: m.nums[o + 6]!,
    started_at: m.nums[o + 2]!,
    duration_ms: m.nums[o + 3]!,
    ok: m.nums[o + 4] === 1,
    status_code: status < 0 ? null : status,
    error: m.errors[j] ?? null,
    // one shared empty object, and timings in the literal: a result is kept per endpoint
    // (`last`), so a fresh `{}` and a property added later cost ~90 bytes each at 10,000
    values: m.values[j] ?? NO_VALUES,
    worker,
    timings: m.timings[j] ?? undefined,
  };
}

/** A check the pool could not get a result for: failed with `reason` (reasons.ts). */
export function failedResult(
  item: { spec: { id: string }; scheduledAt: number },
  reason: string,
  startedAt: number,
  worker: string,
): CheckResult {
  return {
    endpoint: item.spec.id,
    scheduled_at: item.scheduledAt,
    started_at: startedAt,
    duration_ms: 0,
    ok: false,
    status_code: null,
    error: reason,
    values: {},
    worker,
  };
}
