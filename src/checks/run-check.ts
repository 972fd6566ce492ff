/**
 * runCheck: the one place that wraps any probe with the total time budget, the start stamp and
 * duration, and exception-to-reason mapping. It never throws: every call yields a CheckResult.
 */
import { performance } from 'node:perf_hooks';
import type { CheckSpec } from '../model/endpoint.js';
import type { CheckResult } from '../model/result.js';
import { CheckDeadline } from './deadline.js';
import { type ProbeOutcome, probeKindOf } from './probe.js';
import { CheckAbort, reasonOf, TIMEOUT } from './reasons.js';
import { probes } from './registry.js';

export interface RunCheckOptions {
  /** epoch ms source for started_at [Date.now] */
  now?: () => number;
  /** aborts the check early (pool shutdown); its reason becomes the result's error */
  signal?: AbortSignal;
}

const timeoutReason = (): CheckAbort => new CheckAbort(TIMEOUT);

export async function runCheck(
  spec: CheckSpec,
  scheduledAt: number,
  worker: string,
  opts: RunCheckOptions = {},
): Promise<CheckResult> {
  const startedAt = (opts.now ?? Date.now)();
  const t0 = performance.now();
  const deadline = new CheckDeadline(Math.max(1, spec.timeoutMs), timeoutReason);
  const outer = opts.signal;
  const onOuterAbort = (): void => deadline.abort(outer?.reason ?? new CheckAbort('aborted'));
  if (outer) {
    if (outer.aborted) onOuterAbort();
    else outer.addEventListener('abort', onOuterAbort, { once: true });
  }

  let outcome: ProbeOutcome;
  try {
    const probe = probes[probeKindOf(spec.url)];
    if (probe === undefined) throw new CheckAbort('unsupported scheme');
    outcome = await probe(spec, deadline, { scheduledAt });
    // A probe that finished with some other error after the budget ran out still timed out.
    if (!outcome.ok && deadline.aborted) outcome = { ...outcome, error: reasonOf(deadline.reason) };
  } catch (err) {
    outcome = {
      ok: false,
      status_code: null,
      error: reasonOf(deadline.aborted ? deadline.reason : err),
      values: {},
      duration_ms: Math.round((performance.now() - t0) * 100) / 100,
    };
  } finally {
    deadline.clear();
    outer?.removeEventListener('abort', onOuterAbort);
  }

  const result: CheckResult = {
    endpoint: spec.id,
    scheduled_at: scheduledAt,
    started_at: startedAt,
    duration_ms: outcome.duration_ms,
    ok: outcome.ok,
    status_code: outcome.status_code,
    error: outcome.ok ? null : (outcome.error ?? 'failed'),
    values: outcome.values,
    worker,
  };
  if (outcome.timings) result.timings = outcome.timings;
  return result;
}
