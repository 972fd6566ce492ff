/**
 * CheckPool: runs checks in piscina worker threads, fed in batches (one task = up to
 * maxChecksPerTask checks, many in flight per thread). Results stream back per task through a
 * MessagePort in micro-batches (see batch-runner.ts) and reach `onResult` as they arrive, so a
 * hung check delays only itself. Every submitted check yields exactly one result: a thread that
 * dies turns its unfinished checks into failed results (`worker thread died`); checks cut off by
 * close() fail with `shutdown`.
 */
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Clock } from '../model/clock.js';
import { systemClock } from '../model/clock.js';
import type { CheckSpec } from '../model/endpoint.js';
import type { Logger } from '../model/logger.js';
import { silentLogger } from '../model/logger.js';
import type { CheckResult } from '../model/result.js';
import { SHUTDOWN, THREAD_DIED } from './reasons.js';
import { resolveThreadFile } from './thread-file.js';
import { type ResultMessage, type ThreadSettings, type ThreadTask, toCheckSpec } from './wire.js';

export interface CheckPoolOptions {
  threads: number;
  /** worker id stamped on every result */
  worker: string;
  /** checks in flight per thread, across tasks [256] */
  maxConcurrentPerThread?: number;
  /** most checks in one piscina task; bigger batches are split across threads [256] */
  maxChecksPerTask?: number;
  /** a thread posts a micro-batch of results this long after its first result at the latest [5] */
  flushMs?: number;
  /** ... or as soon as it holds this many [64] */
  flushSize?: number;
  logger?: Logger;
  clock?: Clock;
  /** thread entry override (tests); default: compiled thread.js, see thread-file.ts */
  filename?: string;
  /** extra environment variables for the threads */
  env?: Record<string, string>;
  /** V8 young generation per thread, MB [32]: fewer scavenges for the short-lived per-check garbage */
  youngGenerationMb?: number;
}

export interface CheckBatchItem {
  spec: CheckSpec;
  /** epoch ms the check was due */
  scheduledAt: number;
}

/** Called once per check, as soon as its result reaches the main thread. */
export type ResultListener = (result: CheckResult) => void;

export interface CheckPoolStats {
  threads: number;
  /** checks submitted and not yet reported */
  inFlight: number;
  /** piscina tasks waiting for a thread */
  queuedTasks: number;
  /** checks reported since start (incl. failed-by-pool) */
  completed: number;
  /** tasks lost to a dying thread */
  threadDeaths: number;
  closed: boolean;
}

const MIN_CHUNK = 8;
/** After a task settles, how long to wait for its port to deliver what was already posted. */
const DRAIN_WAIT_MS = 2000;

export class CheckPool {
  private readonly piscina: Piscina<ThreadTask, number>;
  private readonly worker: string;
  private readonly threads: number;
  private readonly maxPerTask: number;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly running = new Set<Promise<void>>();
  private inFlight = 0;
  private completed = 0;
  private threadDeaths = 0;
  private closing = false;
  private closed = false;

  constructor(opts: CheckPoolOptions) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1)
      throw new RangeError('threads must be an integer >= 1');
    this.worker = opts.worker;
    this.threads = opts.threads;
    this.maxPerTask = Math.max(1, opts.maxChecksPerTask ?? 256);
    this.logger = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
    const settings: ThreadSettings = {
      worker: opts.worker,
      maxConcurrent: Math.max(1, opts.maxConcurrentPerThread ?? 256),
      flushMs: Math.max(0, opts.flushMs ?? 5),
      flushSize: Math.max(1, opts.flushSize ?? 64),
    };
    this.piscina = new Piscina<ThreadTask, number>({
      filename: opts.filename ?? resolveThreadFile(),
      minThreads: opts.threads,
      maxThreads: opts.threads,
      // Tasks are long (they hold many network checks); the real limit is maxConcurrent in the thread.
      concurrentTasksPerWorker: 1024,
      idleTimeout: 60_000,
      // Threads must keep their event loop running between tasks (sockets, timers).
      atomics: 'disabled',
      workerData: settings,
      resourceLimits: { maxYoungGenerationSizeMb: opts.youngGenerationMb ?? 32 },
      ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
    });
    // Piscina reports a thread error with no task attached as an 'error' event; never crash on it.
    this.piscina.on('error', (err: unknown) => {
      this.logger.warn({ err: errorText(err) }, 'check thread error');
    });
  }

  /**
   * Runs a batch; `onResult` gets each result as soon as its micro-batch reaches the main thread
   * (any order). Resolves once every check has reported. Never rejects.
   */
  run(batch: CheckBatchItem[], onResult?: ResultListener): Promise<void> {
    return this.runAll(batch, onResult).then(() => undefined);
  }

  /** Like run(), and also resolves with all results in batch order. */
  runAll(batch: CheckBatchItem[], onResult?: ResultListener): Promise<CheckResult[]> {
    const results = new Array<CheckResult>(batch.length);
    if (batch.length === 0) return Promise.resolve(results);
    const emit = (rs: CheckResult[]): void => {
      this.completed += rs.length;
      if (onResult === undefined) return;
      for (const r of rs) {
        try {
          onResult(r);
        } catch (err) {
          this.logger.error({ err: errorText(err) }, 'onResult listener threw');
        }
      }
    };
    if (this.closing) {
      const now = this.clock.now();
      for (let i = 0; i < batch.length; i++) results[i] = this.failed(batch[i]!, SHUTDOWN, now);
      emit(results);
      return Promise.resolve(results);
    }
    const size = Math.min(this.maxPerTask, Math.max(MIN_CHUNK, Math.ceil(batch.length / this.threads)));
    const chunks: Promise<void>[] = [];
    for (let off = 0; off < batch.length; off += size) {
      chunks.push(this.track(this.runChunk(batch, off, Math.min(batch.length, off + size), results, emit)));
    }
    return Promise.all(chunks).then(() => results);
  }

  private track(p: Promise<void>): Promise<void> {
    this.running.add(p);
    p.finally(() => this.running.delete(p));
    return p;
  }

  private runChunk(
    batch: CheckBatchItem[],
    from: number,
    to: number,
    results: CheckResult[],
    emit: (rs: CheckResult[]) => void,
  ): Promise<void> {
    const n = to - from;
    const specs = new Array<CheckSpec>(n);
    const scheduledAt = new Array<number>(n);
    for (let k = 0; k < n; k++) {
      const item = batch[from + k]!;
      specs[k] = toCheckSpec(item.spec);
      scheduledAt[k] = item.scheduledAt;
    }
    const submittedAt = this.clock.now();
    this.inFlight += n;
    const { port1, port2 } = new MessageChannel();

    return new Promise<void>((resolve) => {
      const got = new Uint8Array(n);
      let received = 0;
      let taskSettled = false;
      let taskError: unknown = null;
      let portClosed = false;
      let finished = false;
      let drainTimer: ReturnType<Clock['setTimeout']> | null = null;

      const finish = (): void => {
        if (finished) return;
        finished = true;
        if (drainTimer !== null) this.clock.clearTimeout(drainTimer);
        port1.close();
        if (received < n) {
          const reason = this.closing ? SHUTDOWN : taskError !== null ? THREAD_DIED : 'result lost';
          if (reason === THREAD_DIED) this.threadDeaths++;
          this.logger.warn(
            { checks: n - received, reason, err: errorText(taskError) },
            'checks lost by thread',
          );
          const lost: CheckResult[] = [];
          for (let k = 0; k < n; k++) {
            if (got[k]) continue;
            const r = this.failed(batch[from + k]!, reason, submittedAt);
            results[from + k] = r;
            lost.push(r);
          }
          emit(lost);
        }
        this.inFlight -= n;
        resolve();
      };

      port1.on('message', (m: ResultMessage) => {
        if (finished) return;
        const fresh: CheckResult[] = [];
        for (let j = 0; j < m.idx.length; j++) {
          const k = m.idx[j]!;
          if (got[k]) continue;
          got[k] = 1;
          received++;
          const r = m.results[j]!;
          results[from + k] = r;
          fresh.push(r);
        }
        emit(fresh);
        if (received === n && taskSettled) finish();
      });
      port1.on('close', () => {
        portClosed = true;
        if (taskSettled) finish();
      });

      const settled = (): void => {
        taskSettled = true;
        if (portClosed || received === n) finish();
        else drainTimer = this.clock.setTimeout(finish, DRAIN_WAIT_MS);
      };
      this.piscina
        .run({ specs, scheduledAt, port: port2 }, { transferList: [port2] })
        .then(settled, (err) => {
          taskError = err ?? new Error('task failed');
          settled();
        });
    });
  }

  private failed(item: CheckBatchItem, reason: string, startedAt: number): CheckResult {
    return {
      endpoint: item.spec.id,
      scheduled_at: item.scheduledAt,
      started_at: startedAt,
      duration_ms: 0,
      ok: false,
      status_code: null,
      error: reason,
      values: {},
      worker: this.worker,
    };
  }

  /**
   * Stops taking work (later run() calls fail their checks with `shutdown`), lets in-flight
   * checks finish for at most graceMs, then terminates the threads; checks still running then
   * fail with `shutdown`.
   */
  async close(graceMs = 5000): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    const pending = [...this.running];
    if (pending.length > 0) {
      let timer: ReturnType<Clock['setTimeout']> | null = null;
      const grace = new Promise<void>((resolve) => {
        timer = this.clock.setTimeout(resolve, Math.max(0, graceMs));
      });
      await Promise.race([Promise.allSettled(pending), grace]);
      if (timer !== null) this.clock.clearTimeout(timer);
    }
    await this.piscina.destroy();
    await Promise.allSettled([...this.running]);
    this.closed = true;
  }

  stats(): CheckPoolStats {
    return {
      threads: this.closed ? 0 : this.piscina.threads.length,
      inFlight: this.inFlight,
      queuedTasks: this.closed ? 0 : this.piscina.queueSize,
      completed: this.completed,
      threadDeaths: this.threadDeaths,
      closed: this.closed,
    };
  }
}

function errorText(err: unknown): string | undefined {
  if (err === null || err === undefined) return undefined;
  return err instanceof Error ? err.message : String(err);
}
