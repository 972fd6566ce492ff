/**
 * What this worker publishes in `workers/<id>` now: its identity and settings from the options,
 * the load and shedding state (LoadState), the owned jobs and rate (JobView, OwnedJobsets).
 */
import type { JobView } from './job-view.js';
import type { LoadState } from './load-state.js';
import type { EtcdCoordinatorOptions } from './options.js';
import type { OwnedJobsets } from './owned-jobsets.js';
import { workerRecord } from './registration.js';

export interface OwnRecordSources {
  opts: EtcdCoordinatorOptions;
  startedAt: number;
  load: LoadState;
  view: JobView;
  jobsets: OwnedJobsets;
}

/** The encoded record under `leaseId` (Registration calls it on each publish). */
export function ownRecord(s: OwnRecordSources, leaseId: string): string {
  const { opts, load } = s;
  return workerRecord({
    id: opts.workerId,
    address: opts.address,
    capacity: opts.capacity,
    version: opts.version,
    startedAt: s.startedAt,
    leaseId,
    jobs: s.view.jobCount(),
    jobsets: s.jobsets.owned.size,
    lagP99Ms: load.lagP99Ms,
    shedding: load.shedding || load.locallyDegraded,
    rateCap: load.rateCap,
    overloaded: load.shedding,
    overloadedSince: load.overloadedSinceWall(),
    ownedRate: Math.round(s.jobsets.myLoad().rate * 1000) / 1000,
    servedRate: load.servedRate,
    onPartition: opts.onPartition,
    leaseTtlSec: opts.leaseTtlSec,
  });
}
