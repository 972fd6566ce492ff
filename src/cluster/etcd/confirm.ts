/**
 * "Second opinion before DOWN" over etcd (docs/CLUSTER.md "Second opinion before DOWN").
 *
 * The owner of an endpoint about to go DOWN asks ONE other live worker to run the same check:
 *
 *   owner:    lease grant (TTL = bound, ≥ 2 s)
 *             txn(workers/<to> exists → put verify/<to>/q/<rid> {from, endpoint, slot, lease} under it)
 *   answerer: (its watch on verify/<to>/) normalises the job from its own mirror and environment,
 *             runs it in its own check pool, then
 *             put verify/<from>/a/<rid> {by, ran, ok, error} under the same lease
 *   owner:    (its watch on verify/<from>/) the answer → verdict. Nothing is deleted: both keys go
 *             with the lease when it runs out.
 *
 * The answerer is the highest rendezvous score of (endpoint, slot) over the live workers except the
 * owner, so requests spread over the cluster and two successive candidates of one endpoint usually
 * go to different workers. Three etcd writes per DOWN candidate, none per check. Keys sort between
 * `state/` and `workers/`: the coordinator neither lists them nor reads them from its watch.
 */
import { randomBytes } from 'node:crypto';
import type { Clock, TimerHandle } from '../../model/clock.js';
import type { Endpoint } from '../../model/endpoint.js';
import type { Logger } from '../../model/logger.js';
import type { CheckResult } from '../../model/result.js';
import { cmp, type EtcdRpc, op, type WatchEvent, withTimeout } from './client.js';
import { describeError } from './errors.js';
import { prefixEnd } from './keys.js';
import { rendezvous } from './plan.js';
import { RangeWatch } from './watch.js';

/** What the engine's ConfirmGate gets back (structurally engine/confirm-gate.ts `ConfirmVerdict`). */
export interface Verdict {
  outcome: 'confirmed' | 'refuted' | 'no_answer' | 'unavailable';
  by: string | null;
  error: string | null;
}

export interface EtcdConfirmerDeps {
  rpc: () => EtcdRpc | null;
  /** the cluster's key prefix, `/watcher/<cluster>/` */
  prefix: string;
  me: string;
  clock: Clock;
  log: Logger;
  /** ids of the live workers (the coordinator's mirror), this one included */
  liveWorkers: () => string[];
  /** workers/<id> key of a worker (the request compares it exists) */
  workerKey: (id: string) => string;
  /** the job `name` normalised with this worker's environment (null: not in the cluster, invalid here) */
  resolve: (name: string) => Endpoint | null;
  /** runs one check now in this worker's check pool */
  run: (endpoint: Endpoint) => Promise<CheckResult>;
  /** false while this worker holds no valid lease (recovering, stopping): ask nobody, answer nobody */
  running: () => boolean;
  tuning?: Partial<ConfirmTuning>;
}

export interface ConfirmTuning {
  /** time given to the other worker beyond the check's own timeout */
  slackMs: number;
  /** the whole round never takes longer than this */
  maxRoundMs: number;
}

export const DEFAULT_CONFIRM_TUNING: ConfirmTuning = { slackMs: 1500, maxRoundMs: 12_000 };

interface RequestValue {
  from: string;
  endpoint: string;
  slot: number;
  lease: string;
}

interface AnswerValue {
  by: string;
  /** false: the answerer could not run it (unknown job, invalid there) */
  ran: boolean;
  ok: boolean;
  error: string | null;
}

export function verifyPrefix(prefix: string, worker: string): string {
  return `${prefix}verify/${worker}/`;
}

/** The answerer of a request about `endpoint` at `slot`: highest rendezvous score, the owner excluded. */
export function pickAnswerer(endpoint: string, slot: number, workers: string[], me: string): string[] {
  const key = `${endpoint}\n${slot}`;
  return workers
    .filter((w) => w !== me)
    .sort((a, b) => rendezvous(key, b) - rendezvous(key, a) || (a < b ? -1 : 1));
}

export class EtcdConfirmer {
  private readonly tuning: ConfirmTuning;
  private readonly waiting = new Map<string, (a: AnswerValue) => void>();
  private watch: RangeWatch | null = null;
  private retry: TimerHandle | null = null;
  private closed = false;
  private seq = 0;
  private readonly answered = new Set<string>();
  /** etcd writes made by this worker for confirmations (tests, metrics) */
  writes = 0;

  constructor(private readonly deps: EtcdConfirmerDeps) {
    this.tuning = { ...DEFAULT_CONFIRM_TUNING, ...deps.tuning };
  }

  /** Lists and watches `verify/<me>/` (requests to this worker and answers to its requests). */
  start(): void {
    if (this.closed || this.watch) return;
    const rpc = this.deps.rpc();
    if (!rpc) {
      this.later(1000);
      return;
    }
    const prefix = verifyPrefix(this.deps.prefix, this.deps.me);
    rpc.listPrefix(prefix).then(
      ({ rev, kvs }) => {
        if (this.closed) return;
        for (const kv of kvs) this.onPut(kv.key, kv.value);
        this.watch = new RangeWatch(rpc, this.deps.clock, {
          onEvents: (events: WatchEvent[]) => {
            for (const e of events) if (e.type === 'put') this.onPut(e.kv.key, e.kv.value);
          },
          onBroken: (reason) => {
            this.deps.log.debug({ reason }, 'confirm watch broken; re-listing');
            this.watch?.close();
            this.watch = null;
            this.later(500);
          },
        });
        this.watch.start(prefix, prefixEnd(prefix), rev + 1);
      },
      (err: unknown) => {
        this.deps.log.debug({ err: describeError(err) }, 'cannot list confirm requests yet');
        this.later(1000);
      },
    );
  }

  close(): void {
    this.closed = true;
    this.watch?.close();
    this.watch = null;
    if (this.retry) this.deps.clock.clearTimeout(this.retry);
    for (const resolve of this.waiting.values()) resolve({ by: '', ran: false, ok: false, error: null });
    this.waiting.clear();
  }

  /** Asks one other worker to run the check of `endpoint`; resolves within the round's bound. */
  async confirm(endpoint: Endpoint, failed: CheckResult): Promise<Verdict> {
    const rpc = this.deps.rpc();
    const nobody: Verdict = { outcome: 'unavailable', by: null, error: null };
    if (!rpc || this.closed || !this.deps.running()) return nobody;
    const targets = pickAnswerer(endpoint.name, failed.scheduled_at, this.deps.liveWorkers(), this.deps.me);
    if (targets.length === 0) return nobody;
    const boundMs = Math.min(this.tuning.maxRoundMs, endpoint.timeoutMs + this.tuning.slackMs);
    const started = this.deps.clock.monotonic();
    try {
      const lease = await withTimeout(
        rpc.leaseGrant(Math.max(2, Math.ceil(boundMs / 1000) + 1)),
        1500,
        'lease',
      );
      this.writes++;
      // the first ranked worker that still exists in etcd (the mirror may be a moment behind)
      for (const to of targets.slice(0, 2)) {
        const rid = `${this.deps.me}.${++this.seq}.${randomBytes(3).toString('hex')}`;
        const req: RequestValue = {
          from: this.deps.me,
          endpoint: endpoint.name,
          slot: failed.scheduled_at,
          lease: lease.id,
        };
        const answer = new Promise<AnswerValue | null>((resolve) => {
          const left = boundMs - (this.deps.clock.monotonic() - started);
          const timer = this.deps.clock.setTimeout(
            () => {
              this.waiting.delete(rid);
              resolve(null);
            },
            Math.max(0, left),
          );
          this.waiting.set(rid, (a) => {
            this.deps.clock.clearTimeout(timer);
            this.waiting.delete(rid);
            resolve(a);
          });
        });
        const t = await rpc.txn(
          [cmp.exists(this.deps.workerKey(to))],
          [op.put(`${verifyPrefix(this.deps.prefix, to)}q/${rid}`, JSON.stringify(req), lease.id)],
        );
        this.writes++;
        if (!t.succeeded) {
          this.waiting.get(rid)?.({ by: to, ran: false, ok: false, error: null });
          continue;
        }
        const a = await answer;
        if (!a?.ran) return { outcome: 'no_answer', by: null, error: null };
        return a.ok
          ? { outcome: 'refuted', by: a.by, error: null }
          : { outcome: 'confirmed', by: a.by, error: a.error };
      }
      return nobody;
    } catch (err) {
      this.deps.log.warn(
        { err: describeError(err), endpoint: endpoint.name },
        'could not ask for a second opinion',
      );
      return { outcome: 'no_answer', by: null, error: null };
    }
  }

  private onPut(key: string, value: Buffer): void {
    const rest = key.slice(verifyPrefix(this.deps.prefix, this.deps.me).length);
    const kind = rest.slice(0, 2);
    const rid = rest.slice(2);
    if (kind === 'a/') {
      const v = parse<AnswerValue>(value);
      if (v) this.waiting.get(rid)?.(v);
    } else if (kind === 'q/') {
      const v = parse<RequestValue>(value);
      if (v && !this.answered.has(rid)) void this.answer(rid, v);
    }
  }

  private async answer(rid: string, req: RequestValue): Promise<void> {
    this.answered.add(rid);
    // a request lives at most one lease (≤ maxRoundMs + 1 s): forget the id long after
    this.deps.clock.setTimeout(() => this.answered.delete(rid), this.tuning.maxRoundMs * 2);
    if (!this.deps.running()) return;
    const ep = this.deps.resolve(req.endpoint);
    let a: AnswerValue = { by: this.deps.me, ran: false, ok: false, error: null };
    if (ep) {
      try {
        const r = await this.deps.run(ep);
        a = { by: this.deps.me, ran: !isLocal(r.error), ok: r.ok, error: r.error };
      } catch (err) {
        this.deps.log.debug(
          { err: describeError(err), endpoint: req.endpoint },
          'confirm check failed to run',
        );
      }
    }
    const rpc = this.deps.rpc();
    if (!rpc) return;
    try {
      this.writes++;
      await rpc.txn(
        [],
        [op.put(`${verifyPrefix(this.deps.prefix, req.from)}a/${rid}`, JSON.stringify(a), req.lease)],
      );
    } catch (err) {
      // the lease ran out (the owner decided alone) or etcd is away: nothing else to do
      this.deps.log.debug(
        { err: describeError(err), endpoint: req.endpoint },
        'could not answer a confirm request',
      );
    }
  }

  private later(ms: number): void {
    if (this.closed || this.retry) return;
    this.retry = this.deps.clock.setTimeout(() => {
      this.retry = null;
      this.start();
    }, ms);
  }
}

function isLocal(error: string | null): boolean {
  return typeof error === 'string' && error.startsWith('local:');
}

function parse<T>(buf: Buffer): T | null {
  try {
    return JSON.parse(buf.toString()) as T;
  } catch {
    return null;
  }
}
