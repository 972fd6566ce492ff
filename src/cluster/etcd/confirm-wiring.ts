/**
 * The EtcdConfirmer of one coordinator (`confirm: 1`): over its etcd connection, asking among the
 * live workers of its mirror, resolving jobs from the mirror's jobsets with this worker's env.
 */
import { EtcdConfirmer, type EtcdConfirmerDeps } from './confirm.js';
import type { ClusterContext } from './context.js';
import type { Mirror } from './mirror.js';
import type { EtcdCoordinatorOptions } from './options.js';

export function confirmerFor(
  ctx: ClusterContext,
  mirror: Mirror,
  normalize: EtcdCoordinatorOptions['normalize'],
  run: EtcdConfirmerDeps['run'],
): EtcdConfirmer {
  return new EtcdConfirmer({
    rpc: () => ctx.state.rpc,
    prefix: ctx.keys.prefix,
    me: ctx.me,
    clock: ctx.clock,
    log: ctx.log,
    liveWorkers: () => [...mirror.workers.keys()],
    workerKey: (id) => ctx.keys.worker(id),
    resolve: (name) => {
      for (const js of mirror.jobsets.values())
        if (js.value.jobs[name]) return normalize(js.value.jobs[name]);
      return null;
    },
    running: () => ctx.running() && !!ctx.session?.valid(),
    run,
  });
}
