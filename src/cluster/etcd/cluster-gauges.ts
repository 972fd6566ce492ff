/**
 * The coordinator's gauges (jobs and jobsets owned, the three autoscaling signals) and the
 * `signals` event when the signals change; all zeroed when the coordinator stops.
 */
import type { Logger } from '../../model/logger.js';
import { Emitter } from './context.js';
import type { Mirror } from './mirror.js';
import type { ClusterMetrics, ScalingSignals } from './options.js';
import { sameSignals, scalingSignals } from './signals.js';

export interface ClusterGaugesEvents {
  signals: [signals: ScalingSignals];
}

export class ClusterGauges {
  readonly events: Emitter<ClusterGaugesEvents>;
  private signals: ScalingSignals = { jobsWaiting: 0, spareCapacity: 0, workersNeeded: 0 };

  constructor(
    private readonly metrics: ClusterMetrics,
    private readonly mirror: Mirror,
    log: Logger,
  ) {
    this.events = new Emitter(log);
  }

  /** The signals as last computed from the mirror. */
  current(): ScalingSignals {
    return { ...this.signals };
  }

  update(jobs: number, jobsets: number): void {
    const m = this.metrics;
    m.jobsOwned.set(jobs);
    m.jobsetsOwned.set(jobsets);
    const prev = this.signals;
    this.signals = scalingSignals(this.mirror);
    if (!sameSignals(prev, this.signals)) this.events.emit('signals', { ...this.signals });
    m.jobsWaiting.set(this.signals.jobsWaiting);
    m.spareCapacity.set(this.signals.spareCapacity);
    m.workersNeeded.set(this.signals.workersNeeded);
  }

  /** Stopped: not connected, not admin, owning nothing. */
  stopped(): void {
    const m = this.metrics;
    m.etcdUp.set(0);
    m.isAdmin.set(0);
    m.jobsOwned.set(0);
    m.jobsetsOwned.set(0);
  }
}
