/**
 * What a worker says about its own faults (docs/RUNBOOK.md): a local-fault episode (checks it could
 * not carry out) and a wall-clock step. Each is logged, sent to the `self` sinks and published on
 * the event stream, with the message an operator reads.
 */
import type { LocalFaultEpisode } from '../engine/local-faults.js';
import type { Logger } from '../model/logger.js';
import type { SelfEventKind } from '../sinks/index.js';

export interface OwnFaultDeps {
  workerId: string;
  logger: Logger;
  announce: (kind: SelfEventKind, message: string, details?: Record<string, unknown>) => void;
  publish: (type: 'worker', data: Record<string, unknown>) => void;
}

export function announceLocalFaults(deps: OwnFaultDeps): (e: LocalFaultEpisode) => void {
  const { workerId: id, logger } = deps;
  return (e) => {
    const message = e.degraded
      ? `worker ${id} cannot carry out some checks (local: ${e.code}): a fault of this worker, not of the targets; their alert states are left as they are`
      : `worker ${id} carries out its checks again (${e.count} local errors over ${Math.round(e.durationMs / 1000)} s)`;
    if (e.degraded) logger.error({ code: e.code }, message);
    else logger.info({ code: e.code, count: e.count }, message);
    deps.announce(e.degraded ? 'worker_degraded' : 'worker_recovered', message, {
      code: e.code,
      count: e.count,
    });
    deps.publish('worker', { id, degraded: e.degraded, code: e.code });
  };
}

export function announceClockStep(deps: OwnFaultDeps): (stepMs: number) => void {
  const { workerId: id, logger } = deps;
  return (stepMs) => {
    const size = `${stepMs < 0 ? '-' : '+'}${(Math.abs(stepMs) / 1000).toFixed(1)} s`;
    const message = `wall clock of ${id} stepped ${size}; the schedule was re-planned for the new time (timers and leases run on the monotonic clock)`;
    logger.warn({ stepMs }, message);
    deps.announce('clock_step', message, { step_ms: stepMs });
    deps.publish('worker', { id, clockStepMs: stepMs });
  };
}
