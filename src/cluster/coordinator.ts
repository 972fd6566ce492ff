import type { ConfigSnapshot } from '../config/types.js';
import type { AlertState } from '../model/alert.js';
import type { Endpoint } from '../model/endpoint.js';

/** Who answers a worker's `/healthz` (cluster): peers tell a process from a restart or a reused port by it. */
export interface HealthIdentity {
  id: string;
  started_at: number;
  lease_id: string;
}

/** One job this worker must run. */
export interface OwnedJob {
  endpoint: Endpoint;
  /**
   * True when the job was just taken over from another owner (failover, handover): the scheduler
   * runs it at once if a slot fell due since `dueSince` (catch-up once, never a burst of missed slots).
   */
  takenOver: boolean;
  /** epoch ms; slots scheduled at or after this and not yet run by the previous owner are caught up */
  dueSince: number;
}

export interface WorkerInfo {
  id: string;
  address: string;
  capacity: number | null;
  version: string;
  startedAt: number;
  jobs: number;
  jobsets: number;
  lagP99Ms: number | null;
  shedding: boolean;
  /** cluster: in an overload episode (docs/CLUSTER.md "Falling behind") */
  overloaded?: boolean;
  /** cluster: checks/s its jobs demand, and what it completed while overloaded (null = not measured) */
  ownedRate?: number;
  servedRate?: number | null;
}

export interface JobsetInfo {
  id: string;
  owner: string | null;
  jobs: number;
  /** names of its jobs (the cluster status API lists endpoints whose owner did not answer) */
  names: string[];
}

/** Whether etcd accepts the admin's writes (`refused` with cause and remedy while it does not). */
export interface EtcdWriteState {
  refused: boolean;
  /** `nospace`, `too_large`, `too_many_requests`, `corrupt` */
  cause: string | null;
  remedy: string | null;
  /** epoch ms the refusal started */
  since: number | null;
  error: string | null;
  /** which write was refused first: `admin reconcile`, `alert states`, `worker record`, `claim` */
  what: string | null;
}

export interface ClusterStatus {
  mode: 'standalone' | 'etcd';
  self: string;
  admin: string | null;
  etcdUp: boolean;
  workers: WorkerInfo[];
  jobsets: JobsetInfo[];
  waiting: number;
  /** on the admin, while etcd refuses its writes */
  etcdWrites?: EtcdWriteState;
  /** active etcd alarms (`watcher status` asks etcd), e.g. NOSPACE */
  etcdAlarms?: Array<{ member: string; alarm: string }>;
  /** operator commands in force (silence, pause, run-now; `watcher status` and the status API) */
  commands?: OperatorCommand[];
  /** folder mode: workers whose endpoint folder differs from the admin's (`watcher status`) */
  configDrift?: string[];
}

/** An operator command as `watcher status` and the status API show it. */
export interface OperatorCommand {
  kind: 'silence' | 'pause' | 'run-now';
  id: string;
  endpoint: string | null;
  tag?: string | null;
  author: string;
  reason: string;
  created_at: number;
  expires_at: number | null;
}

/** Per-job lag (the smallest of its last 3 checks) with the job's typical interval. */
export type JobLag = { lagMs: number; intervalMs: number };

/** Which jobs this worker runs, and whether it may run them right now. */
export interface JobOwnership {
  /** Called with the full set of jobs this worker must run, by endpoint name, whenever it changes. */
  onOwnedChange(listener: (jobs: ReadonlyMap<string, OwnedJob>) => void): void;
  /**
   * Asked before dispatching each batch. Standalone: always true. Cluster: false once the own
   * lease deadline has passed (except `--on-partition continue` while etcd is unreachable).
   */
  mayRun(): boolean;
  /** How to read the latest slot the engine has handed on (exact handoff times in a cluster). */
  setDispatchHorizon(horizon: () => number): void;
}

/** Alert states that outlive an owner: standalone keeps none, a cluster keeps them in etcd. */
export interface AlertStates {
  /** The last known alert state of these endpoints, to continue across owners (standalone: none). */
  loadAlertStates(names: string[]): Promise<Map<string, AlertState>>;
  /** Persist a state change (cluster: one fenced write per change, never per check). Never throws. */
  saveAlertState(state: AlertState): void;
}

/** What the engine reports about its load, once a second. */
export interface LoadReport {
  /**
   * Per-job lag, the checks completed since the previous report, and this worker's lag p99 (the
   * engine's LagTracker: the one p99 that status and the worker record show). Cluster: shedding.
   */
  reportLag(stats: ReadonlyMap<string, JobLag>, completed?: number, lagP99Ms?: number | null): void;
  /** Local faults (EMFILE, ...) are most of this worker's results: take no more work (cluster). */
  setLocallyDegraded(degraded: boolean): void;
}

/**
 * Who owns which job. The engine asks only this; nothing else talks to etcd.
 * `standalone` owns everything from the local folder; `etcd/` shares jobs through etcd.
 */
export interface Coordinator extends JobOwnership, AlertStates, LoadReport {
  readonly mode: 'standalone' | 'etcd';
  start(): Promise<void>;
  /** Every new config snapshot of the local folder (standalone: what it runs; cluster: what the admin reconciles). */
  setDesired(snapshot: ConfigSnapshot): void;
  /** true once config is loaded and (cluster) the lease is held */
  ready(): boolean;
  status(): ClusterStatus;
  /** Graceful stop: hand owned work back so others take it at once. */
  stop(): Promise<void>;
}
