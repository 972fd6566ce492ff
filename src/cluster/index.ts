/**
 * cluster/: who owns which job. `standalone` owns everything; `etcd/` shares jobs through etcd.
 * The etcd implementation is loaded lazily (`loadEtcdCluster()`), so a standalone run never loads
 * the gRPC client.
 */
export type { ClusterStatus, Coordinator, JobsetInfo, OwnedJob, WorkerInfo } from './coordinator.js';
export type {
  ApplyResult,
  ClusterToolOptions,
  CoordinatorEvents,
  CoordinatorTuning,
  EtcdCoordinator,
  EtcdCoordinatorOptions,
  ScalingEvent,
} from './etcd/index.js';
export { StandaloneCoordinator } from './standalone.js';

/** The etcd coordinator, `watcher status` and `watcher apply` functions (loads etcd3/gRPC). */
export function loadEtcdCluster(): Promise<typeof import('./etcd/index.js')> {
  return import('./etcd/index.js');
}
