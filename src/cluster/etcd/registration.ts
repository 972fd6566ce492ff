/**
 * This worker's registration: the workers/<id> record (built here, published by the coordinator)
 * and the create-if-absent registration under our lease.
 */
import type { Clock } from '../../model/clock.js';
import type { Logger } from '../../model/logger.js';
import { cmp, type EtcdRpc, op } from './client.js';
import { ClusterError, ClusterErrorCode } from './errors.js';
import type { Keys } from './keys.js';
import { defaultMarginMs, type Session } from './session.js';
import { encode, type WorkerValue } from './values.js';

/** What the worker knows about itself; `pauseMarginMs` is derived from the partition mode. */
export type WorkerRecordInput = Omit<WorkerValue, 'pauseMarginMs'> & {
  onPartition: 'continue' | 'pause';
  leaseTtlSec: number;
};

/** The encoded workers/<id> value. */
export function workerRecord(w: WorkerRecordInput): string {
  // lag in 1-2-5 steps: a steady worker does not rewrite its record every few seconds
  const { onPartition, leaseTtlSec, ...value } = w;
  const record: WorkerValue = {
    ...value,
    lagP99Ms: w.lagP99Ms === null ? null : quantizeLag(w.lagP99Ms),
    pauseMarginMs: onPartition === 'pause' ? defaultMarginMs(leaseTtlSec) : null,
  };
  return encode(record);
}

/** Rounds a lag up to the 1-2-5 series (0, 1, 2, 5, 10, 20, 50, ... ms). */
export function quantizeLag(ms: number): number {
  if (ms < 0.5) return 0;
  let step = 1;
  for (;;) {
    for (const m of [1, 2, 5]) if (ms <= step * m) return step * m;
    step *= 10;
  }
}

export interface RegisterDeps {
  rpc: EtcdRpc;
  keys: Keys;
  me: string;
  cluster: string;
  clock: Clock;
  log: Logger;
  /** the record to create, built when each attempt is sent */
  value: (leaseId: string) => string;
  sleep: (ms: number) => Promise<void>;
  stopping: () => boolean;
}

/**
 * workers/<id> under our lease, created only if absent. An existing registration under another
 * lease is waited out for one TTL (a restarted worker's previous lease may still be running out);
 * if it is still alive then, another live worker uses this id: CLUSTER_ID_IN_USE.
 */
export async function registerWorker(d: RegisterDeps, session: Session): Promise<void> {
  const { rpc, me } = d;
  const key = d.keys.worker(me);
  const waitUntil = d.clock.now() + session.ttlMs + 1500;
  for (let i = 0; i < 1000; i++) {
    const r = await rpc.txn(
      [cmp.create(key, 0)],
      [op.put(key, d.value(session.leaseId), session.leaseId)],
      [op.get(key)],
    );
    if (r.succeeded) return;
    const kv = r.responses[0]?.response_range?.kvs?.[0];
    if (!kv) continue;
    if (String(kv.lease) === session.leaseId) return;
    if (d.clock.now() >= waitUntil) {
      throw new ClusterError(
        ClusterErrorCode.ID_IN_USE,
        `worker id "${me}" is already registered by a live worker in cluster "${d.cluster}"; give each worker a unique --id`,
      );
    }
    if (i === 0)
      d.log.info(
        { worker: me },
        'worker id still registered (previous process?); waiting for its lease to expire',
      );
    await d.sleep(250);
    if (d.stopping()) throw new ClusterError(ClusterErrorCode.STOPPED, 'stopped');
  }
  throw new ClusterError(ClusterErrorCode.ID_IN_USE, `worker id "${me}" could not be registered`);
}
