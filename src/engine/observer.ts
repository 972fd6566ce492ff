/**
 * The engine's own health, made visible: skipped slots and coverage in /metrics, and one
 * `lag_high` / `lag_ok` self event per overload episode (the OverloadDetector's hysteresis makes
 * an episode; standalone and cluster alike).
 */
import type { Metrics } from '../metrics.js';
import type { Logger } from '../model/logger.js';
import type { SelfEvent } from '../sinks/types.js';
import type { EngineObserver } from './ports.js';

export interface EngineObserverDeps {
  metrics: Metrics;
  logger: Logger;
  workerId: string;
  now: () => number;
  selfEvent: (e: SelfEvent) => void;
  publish: (type: 'overload', data: unknown) => void;
  /** checks pending in the engine, read each second for the gauge */
  pending: () => number;
}

export function createEngineObserver(d: EngineObserverDeps): EngineObserver {
  return {
    skipped(reason, n) {
      d.metrics.checksSkipped.inc({ reason }, n);
    },
    tick(reading, coverage) {
      d.metrics.coverage.set(Math.round(coverage * 1e4) / 1e4);
      d.metrics.overloaded.set(reading.overloaded ? 1 : 0);
      d.metrics.checksPending.set(d.pending());
      if (reading.transition === null) return;
      const details = {
        behind_jobs: reading.behind,
        jobs: reading.jobs,
        coverage: Math.round(coverage * 1000) / 1000,
        served_rate: reading.servedRate === null ? null : Math.round(reading.servedRate * 10) / 10,
      };
      const high = reading.transition === 'high';
      const message = high
        ? `worker ${d.workerId} is falling behind: ${reading.behind} of ${reading.jobs} jobs late, ${Math.round(coverage * 100)}% of due slots run over the last minute`
        : `worker ${d.workerId} is back on schedule`;
      if (high) d.logger.warn(details, message);
      else d.logger.info(details, message);
      d.selfEvent({ kind: high ? 'lag_high' : 'lag_ok', at: d.now(), worker: d.workerId, message, details });
      d.publish('overload', { worker: d.workerId, overloaded: high, ...details });
    },
  };
}
