/**
 * cluster/etcd: the etcd Coordinator and the one-shot cluster tools. See docs/CLUSTER.md.
 */

export type { ScalingEvent } from './admin.js';
export {
  buildClientOptions,
  classifyEtcdError,
  credentialsFromFlags,
  type EtcdClientOptions,
  type EtcdCredentialFlags,
} from './client-options.js';
export {
  type CommandValue,
  CommandWatch,
  deleteCommands,
  desiredEndpoints,
  listCommands,
  putCommand,
  RUN_NOW_TTL_S,
  rawTags,
  startCommandWatch,
  waitRunResult,
} from './commands.js';
export { createEtcdCoordinator, EtcdCoordinator } from './coordinator.js';
export { DesiredSelfWatch } from './desired-self.js';
export { DriftMonitor } from './drift.js';
export { ClusterError, ClusterErrorCode } from './errors.js';
export { Keys } from './keys.js';
export {
  type ClusterMetrics,
  type CoordinatorEvents,
  type CoordinatorTuning,
  DEFAULT_TUNING,
  type EtcdCoordinatorOptions,
} from './options.js';
export { MAX_JOBS_PER_JOBSET, targetJobsetSize } from './packing.js';
export { type ApplyResult, applyDesired, type ClusterToolOptions, readClusterStatus } from './tools.js';
