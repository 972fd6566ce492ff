/**
 * The three autoscaling signals as a mirror shows them (docs/CLUSTER.md "Signals for an
 * autoscaler"): jobs waiting, spare capacity (-1 when some worker is unbounded), workers needed.
 */
import type { Mirror } from './mirror.js';
import type { ScalingSignals } from './options.js';
import { workersNeeded } from './plan.js';

export function scalingSignals(mirror: Mirror): ScalingSignals {
  const loads = mirror.loads();
  let spare = 0;
  let unbounded = false;
  for (const [id, w] of mirror.workers) {
    if (w.value.capacity === null) unbounded = true;
    else spare += Math.max(0, w.value.capacity - (loads.get(id)?.jobs ?? 0));
  }
  const { rate: demandRate, jobs: totalJobs } = mirror.totals();
  return {
    jobsWaiting: mirror.waitingJobs(),
    spareCapacity: unbounded ? -1 : spare,
    workersNeeded: workersNeeded({
      demandRate,
      totalJobs,
      workers: [...mirror.workers.values()].map((w) => ({
        capacity: w.value.capacity,
        servedRate: w.value.servedRate,
      })),
    }),
  };
}

export function sameSignals(a: ScalingSignals, b: ScalingSignals): boolean {
  return (
    a.jobsWaiting === b.jobsWaiting &&
    a.spareCapacity === b.spareCapacity &&
    a.workersNeeded === b.workersNeeded
  );
}
