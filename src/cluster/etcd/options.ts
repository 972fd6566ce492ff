/**
 * The etcd coordinator's options, tuning, metrics and the events it sends up to the app.
 */
import type { ConfigSnapshot, RawEndpoint } from '../../config/types.js';
import type { Metrics } from '../../metrics.js';
import type { Clock } from '../../model/clock.js';
import type { Endpoint } from '../../model/endpoint.js';
import type { Logger } from '../../model/logger.js';
import { intOption, numberOption } from '../../model/option-checks.js';
import type { EtcdWriteState } from '../coordinator.js';
import type { AdminTuning, ScalingEvent } from './admin.js';
import { ClusterError, ClusterErrorCode } from './errors.js';
import { Keys } from './keys.js';
import type { PeerWatchTuning } from './peer-watch.js';
import type { ShedTuning } from './shedding.js';

export type ClusterMetrics = Pick<
  Metrics,
  | 'etcdUp'
  | 'isAdmin'
  | 'jobsOwned'
  | 'jobsetsOwned'
  | 'jobsWaiting'
  | 'spareCapacity'
  | 'workersNeeded'
  | 'claimsTotal'
> &
  Partial<Pick<Metrics, 'etcdWriteErrors' | 'peerRevocations'>>;

export interface CoordinatorTuning extends AdminTuning, ShedTuning {
  /** per-attempt deadline of unary etcd calls */
  callTimeoutMs: number;
  /** bound of the connection check (wrong password, TLS) */
  connectTimeoutMs: number;
  /** delay per rank for backup claimers of a free jobset */
  claimStepMs: number;
  claimJitterMs: number;
  /** after start, wait this long before claiming so that workers starting together see each other */
  joinGraceMs: number;
  /** delay per rank for admin contention */
  adminStepMs: number;
  /** most frequent update of this worker's workers/<id> value */
  publishIntervalMs: number;
  /** cap of the reconnect backoff */
  maxBackoffMs: number;
  /** bound of stop() */
  stopTimeoutMs: number;
}

export const DEFAULT_TUNING: CoordinatorTuning = {
  callTimeoutMs: 1500,
  connectTimeoutMs: 5000,
  claimStepMs: 250,
  claimJitterMs: 100,
  joinGraceMs: 300,
  adminStepMs: 300,
  publishIntervalMs: 2000,
  maxBackoffMs: 5000,
  stopTimeoutMs: 3000,
  shedBehindFraction: 0.05,
  shedWindowMs: 5000,
  recoverWindowMs: 30_000,
  shedHeadroom: 0.7,
  rateCapHoldMs: 600_000,
  reconcileDebounceMs: 100,
  rebalanceIntervalMs: 1000,
  maxMovesPerRound: null,
  moveCooldownMs: 30_000,
  scalingLimitAfterMs: 30_000,
  rebalance: true,
};

export interface EtcdCoordinatorOptions {
  endpoints: string[];
  tls?: { ca?: Buffer | undefined; cert?: Buffer | undefined; key?: Buffer | undefined } | undefined;
  auth?: { username: string; password: string } | undefined;
  cluster: string;
  workerId: string;
  /** status server host:port */
  address: string;
  version: string;
  leaseTtlSec: number;
  capacity: number | null;
  onPartition: 'continue' | 'pause';
  /** RawEndpoint from etcd → Endpoint with this worker's env; null (and logged) when invalid here */
  normalize: (raw: RawEndpoint) => Endpoint | null;
  /** this worker's own folder, reconciled into etcd while it is admin */
  desired?: () => ConfigSnapshot | null;
  metrics: ClusterMetrics;
  logger: Logger;
  clock?: Clock;
  tuning?: Partial<CoordinatorTuning>;
  /** peer-observed death (`successors: 0` turns it off) */
  peerWatch?: Partial<PeerWatchTuning>;
}

/** What an autoscaler acts on (docs/CLUSTER.md "Signals for an autoscaler"). */
export interface ScalingSignals {
  jobsWaiting: number;
  spareCapacity: number;
  workersNeeded: number;
}

export interface CoordinatorEvents {
  /** this worker became (true) or stopped being (false) the admin */
  admin: [isAdmin: boolean];
  /** jobsets gained or lost, with why */
  ownership: [change: { acquired: string[]; lost: string[]; reason: string }];
  /** etcd connectivity of this worker */
  partition: [state: { state: 'unreachable' | 'expired' | 'recovered'; reason?: string }];
  /** the admin's waiting-queue alarm ("scaling limit hit" / resolved) */
  scaling: [e: ScalingEvent];
  /** the autoscaling signals changed (the admin sends them to CloudWatch) */
  signals: [s: ScalingSignals];
  /** a problem the operator must know (e.g. our --id taken by another process during a partition) */
  problem: [err: ClusterError];
  /** etcd refuses the admin's writes for a lasting reason (NOSPACE...) / accepts them again */
  writes: [e: EtcdWriteState];
  /** this worker saw a peer's process die, released its jobsets and revoked its lease */
  peerDeath: [e: { worker: string; lease: string; deadBy: number; jobsets: number }];
}

/** Throws CLUSTER_CONFIG (or the id rule's error) for options the coordinator cannot run with. */
export function checkOptions(opts: EtcdCoordinatorOptions): void {
  Keys.checkWorkerId(opts.workerId);
  if (!Number.isFinite(opts.leaseTtlSec) || opts.leaseTtlSec < 2) {
    throw new ClusterError(
      ClusterErrorCode.CONFIG,
      `lease TTL must be at least 2 seconds (got ${opts.leaseTtlSec})`,
    );
  }
  if (opts.capacity !== null && (!Number.isInteger(opts.capacity) || opts.capacity < 0)) {
    throw new ClusterError(
      ClusterErrorCode.CONFIG,
      `capacity must be a non-negative integer (got ${opts.capacity})`,
    );
  }
}

/** Fractions of 0..1 in the tuning; every other number is a duration in ms (>= 0). */
const FRACTIONS = new Set<keyof CoordinatorTuning>(['shedBehindFraction', 'shedHeadroom']);

/**
 * The tuning with its defaults, each value checked: TypeError for a wrong type, RangeError for a
 * value out of range, both naming the option (`tuning.claimStepMs must be ...`).
 */
export function checkTuning(t: Partial<CoordinatorTuning> | undefined): CoordinatorTuning {
  const out = { ...DEFAULT_TUNING, ...t };
  for (const key of Object.keys(DEFAULT_TUNING) as Array<keyof CoordinatorTuning>) {
    const name = `tuning.${key}`;
    const v = out[key];
    if (key === 'rebalance') {
      if (typeof v !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${String(v)}`);
    } else if (key === 'maxMovesPerRound') {
      if (v !== null) intOption(name, v as number, 1, 1);
    } else {
      numberOption(
        name,
        v as number,
        0,
        FRACTIONS.has(key) ? Number.MIN_VALUE : 0,
        FRACTIONS.has(key) ? 1 : Infinity,
      );
    }
  }
  return out;
}
