/**
 * What the admin duties are given (admin-role.ts builds it when this worker is elected) and the
 * scaling-limit event they report.
 */
import type { ConfigSnapshot } from '../../config/types.js';
import type { Clock } from '../../model/clock.js';
import type { Logger } from '../../model/logger.js';
import type { EtcdRpc } from './client.js';
import type { WriteRefusal } from './errors.js';
import type { Keys } from './keys.js';
import type { Mirror } from './mirror.js';

export interface ScalingEvent {
  /**
   * true: for longer than the threshold, jobs have waited or a worker has been overloaded with
   * nobody to take its excess; false: resolved (neither holds any more)
   */
  active: boolean;
  waitingJobs: number;
  /** overloaded workers that no other worker has room to relieve */
  stuckWorkers: string[];
  /** epoch ms the condition began (active) or cleared (resolved) */
  since: number;
}

export interface AdminTuning {
  reconcileDebounceMs: number;
  rebalanceIntervalMs: number;
  /** most moves planned per round [min(32, max(2, jobsets/20))] */
  maxMovesPerRound: number | null;
  /** a moved jobset is not moved back to the worker it came from for this long */
  moveCooldownMs: number;
  scalingLimitAfterMs: number;
  /** false: never plan moves (tests, or operators who want none) */
  rebalance: boolean;
}

export interface AdminContext {
  rpc: EtcdRpc;
  keys: Keys;
  mirror: Mirror;
  me: string;
  token: number;
  clock: Clock;
  logger: Logger;
  desired(): ConfigSnapshot | null;
  tuning: AdminTuning;
  /** the admin key is no longer ours: the coordinator drops the admin role */
  onFenced(): void;
  onScaling(e: ScalingEvent): void;
  /** etcd refused an admin write for a lasting reason (NOSPACE...): once per cause and episode */
  onWriteRefused?(refusal: WriteRefusal, error: string): void;
  /** every refused write (metrics, the worker's refusal episode) */
  onWriteError?(refusal: WriteRefusal, error: string): void;
  /** etcd accepts admin writes again after a refusal */
  onWritesAccepted?(): void;
}
