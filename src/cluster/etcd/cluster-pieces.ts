/**
 * Builds the etcd coordinator's pieces on one ClusterContext and gives each what it reads from
 * the others (the mirror, the owned jobsets, the job view). The coordinator subscribes to their
 * events and drives the phases; nothing here calls back into it.
 */
import { type Clock, systemClock } from '../../model/clock.js';
import { AdminRole } from './admin-role.js';
import { AlertStateStore } from './alert-states.js';
import { ClusterGauges } from './cluster-gauges.js';
import { ClusterContext } from './context.js';
import { JobView } from './job-view.js';
import { Keys } from './keys.js';
import { LoadState } from './load-state.js';
import { Mirror } from './mirror.js';
import { MirrorSync } from './mirror-sync.js';
import { checkOptions, checkTuning, type EtcdCoordinatorOptions } from './options.js';
import { ownRecord } from './own-record.js';
import { OwnedJobsets } from './owned-jobsets.js';
import { PeerDeaths } from './peer-release.js';
import { Registration } from './registration.js';
import { SessionKeeper } from './session-keeper.js';

export interface ClusterPieces {
  ctx: ClusterContext;
  /** when this coordinator was built (epoch ms; the worker record, /healthz) */
  startedAt: number;
  mirror: Mirror;
  keeper: SessionKeeper;
  registration: Registration;
  sync: MirrorSync;
  load: LoadState;
  view: JobView;
  admin: AdminRole;
  peers: PeerDeaths;
  alertStates: AlertStateStore;
  jobsets: OwnedJobsets;
  gauges: ClusterGauges;
}

/** Checks the options (TypeError / RangeError naming the option) and builds the pieces. */
export function buildPieces(opts: EtcdCoordinatorOptions): ClusterPieces {
  const keys = new Keys(opts.cluster);
  checkOptions(opts);
  const clock: Clock = opts.clock ?? systemClock;
  const ctx = new ClusterContext(keys, clock, opts.logger, opts.workerId, checkTuning(opts.tuning));
  const startedAt = clock.now();
  const mirror = new Mirror(keys, clock, ctx.log);
  const load = new LoadState(ctx);
  const view = new JobView(mirror, opts.normalize, ctx.log, () => clock.now());
  let jobsets: OwnedJobsets | null = null;
  const owned = (): OwnedJobsets => {
    if (!jobsets) throw new Error('owned jobsets read before they were built');
    return jobsets;
  };
  const registration = new Registration(ctx, opts.cluster, (leaseId) =>
    ownRecord({ opts, startedAt, load, view, jobsets: owned() }, leaseId),
  );
  const alertStates = new AlertStateStore(ctx, {
    jobsetOf: (name) => view.jobsetOf(name),
    ownerToken: (jsid) => owned().owned.get(jsid)?.token,
    jobsetHasJob: (jsid, name) => !!mirror.jobsets.get(jsid)?.value.jobs[name],
  });
  jobsets = new OwnedJobsets(ctx, mirror, load, alertStates, opts);
  return {
    ctx,
    startedAt,
    mirror,
    keeper: new SessionKeeper(ctx, opts.leaseTtlSec),
    registration,
    sync: new MirrorSync(ctx, mirror),
    load,
    view,
    admin: new AdminRole(ctx, mirror, opts.metrics, opts.desired),
    peers: new PeerDeaths(ctx, mirror, opts.peerWatch),
    alertStates,
    jobsets,
    gauges: new ClusterGauges(opts.metrics, mirror, ctx.log),
  };
}
