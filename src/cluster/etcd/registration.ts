/**
 * This worker's registration: the workers/<id> record, the create-if-absent registration under
 * our lease, and republishing the record (at most once per publishIntervalMs) when it changes.
 */
import type { Clock, TimerHandle } from '../../model/clock.js';
import type { Logger } from '../../model/logger.js';
import { cmp, type EtcdRpc, op } from './client.js';
import type { ClusterContext } from './context.js';
import { ClusterError, ClusterErrorCode, describeError } from './errors.js';
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

/** Registers this worker and keeps its workers/<id> record current. */
export class Registration {
  private timer: TimerHandle | null = null;
  private lastPublishAt = 0;
  private lastPublished = '';

  constructor(
    private readonly ctx: ClusterContext,
    private readonly cluster: string,
    /** the encoded record for this lease, as of now */
    private readonly record: (leaseId: string) => string,
  ) {}

  register(session: Session): Promise<void> {
    const { ctx } = this;
    return registerWorker(
      {
        rpc: ctx.rpc(),
        keys: ctx.keys,
        me: ctx.me,
        cluster: this.cluster,
        clock: ctx.clock,
        log: ctx.log,
        value: this.record,
        sleep: (ms) => ctx.sleep(ms),
        stopping: () => ctx.phase === 'stopping' || ctx.phase === 'stopped',
      },
      session,
    );
  }

  /** Publish soon (rate-limited); a no-op when the record did not change. */
  schedule(): void {
    const { ctx } = this;
    if (this.timer || !ctx.running()) return;
    const wait = Math.max(0, this.lastPublishAt + ctx.tuning.publishIntervalMs - ctx.clock.now());
    this.timer = ctx.clock.setTimeout(() => {
      this.timer = null;
      void this.publish();
    }, wait);
  }

  /** Publish without waiting out the interval (shedding or degraded state changed). */
  soon(): void {
    this.lastPublishAt = 0;
    this.schedule();
  }

  cancel(): void {
    if (this.timer) this.ctx.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private async publish(): Promise<void> {
    const { ctx } = this;
    const session = ctx.session;
    if (!session || !ctx.running()) return;
    const value = this.record(session.leaseId);
    if (value === this.lastPublished) return;
    this.lastPublishAt = ctx.clock.now();
    try {
      const key = ctx.keys.worker(ctx.me);
      const r = await ctx.rpc().txn([cmp.lease(key, session.leaseId)], [op.put(key, value, session.leaseId)]);
      if (r.succeeded) this.lastPublished = value;
      ctx.writes.accepted();
    } catch (err) {
      ctx.writes.failed(err, 'worker record');
      ctx.log.debug({ err: describeError(err) }, 'publishing worker record failed');
      this.schedule();
    }
  }
}
