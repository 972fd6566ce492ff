/** What `/api/v1/status` says about this worker's engine, and the fd-budget warning. */
import type { InflightPlan } from '../checks/fd-budget.js';
import type { Engine } from '../engine/engine.js';
import type { Endpoint } from '../model/endpoint.js';
import type { Logger } from '../model/logger.js';
import type { HealthDoc } from '../server/status-doc.js';

let fdWarned = false;
/**
 * Warn once when the fd budget cannot hold one pending check per endpoint plus the idle sockets
 * keep-alive endpoints keep per thread: then slow targets make the checks queue.
 */
export function warnFdShortage(
  endpoints: readonly Endpoint[],
  plan: InflightPlan,
  threads: number,
  logger: Logger,
): void {
  if (fdWarned || plan.limit === null || !Number.isFinite(plan.budget)) return;
  // worst case: every endpoint's one pending check holds a socket at once (all targets slow)
  const keepalive = endpoints.filter((e) => e.keepalive).length;
  const need = endpoints.length + keepalive * threads;
  if (need <= plan.budget) return;
  fdWarned = true;
  logger.warn(
    {
      fdLimit: plan.limit.soft,
      fdBudget: plan.budget,
      estimatedNeed: need,
      endpoints: endpoints.length,
      keepalive,
    },
    'file descriptor limit is short for these endpoints: when many targets are slow, checks will queue (and run late) instead of failing; raise the nofile limit (docs/OPERATIONS.md)',
  );
}

/** The engine's health for /api/v1/status. */
export function engineHealth(engine: Engine | null): Omit<HealthDoc, 'degraded' | 'results_file'> {
  const r = engine?.overloadReading();
  if (!engine)
    return {
      lag_p99_ms: null,
      overloaded: false,
      overloaded_since: null,
      behind_jobs: 0,
      served_rate: null,
      coverage: 1,
      checks_pending: 0,
      checks_run: 0,
      checks_skipped: {},
    };
  return {
    lag_p99_ms: engine.lagP99(),
    overloaded: r?.overloaded ?? false,
    overloaded_since: engine.overloadedSince(),
    behind_jobs: r?.behind ?? 0,
    served_rate: r?.servedRate ?? null,
    coverage: engine.coverage(),
    checks_pending: engine.pendingChecks(),
    checks_run: engine.skips.runTotal,
    checks_skipped: { ...engine.skips.totals },
  };
}
