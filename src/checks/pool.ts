/**
 * CheckPool: runs checks in piscina worker threads, fed in batches (one task = up to
 * maxChecksPerTask checks, many in flight per thread). Each thread streams the results of all its
 * tasks back on its own persistent port in micro-batches (see batch-runner.ts and wire.ts), and
 * they reach `onResult` as they arrive, so a hung check delays only itself. Every submitted check
 * yields exactly one result: a thread that dies turns its unfinished checks into failed results
 * (`worker thread died`); checks cut off by close() fail with `shutdown`.
 */
import type { Piscina } from 'piscina';
import type { Clock } from '../model/clock.js';
import { systemClock } from '../model/clock.js';
import type { CheckSpec } from '../model/endpoint.js';
import type { Logger } from '../model/logger.js';
import { silentLogger } from '../model/logger.js';
import { intOption, numberOption } from '../model/option-checks.js';
import type { CheckResult } from '../model/result.js';
import { decodedResult, failedResult } from './pool-results.js';
import { startThreads } from './pool-threads.js';
import { RESULT_LOST, SHUTDOWN, THREAD_DIED } from './reasons.js';
import { createServeCap } from './serve-slot.js';
import { resolveThreadFile } from './thread-file.js';
import {
  encodeSpec,
  isResultMessage,
  NUMS_PER_RESULT,
  type ResultMessage,
  type ThreadSettings,
  type ThreadTask,
  type WireSpec,
} from './wire.js';

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
  /**
   * V8 young generation per thread, MB [16]. Bigger means fewer scavenges of the short-lived
   * per-check garbage (32: ~5-10% less CPU per keep-alive check) but more committed memory
   * (each thread committed 48-54 MB at 32, 35-40 at 16, ~30 at 8; bench/README.md).
   */
  youngGenerationMb?: number;
  /** V8 old generation limit per thread, MB [256]: a thread that leaks dies (its checks fail) instead of swelling the process */
  oldGenerationMb?: number;
  /** process-wide V8 flags each thread sets again as it starts (see heap-tuning.ts) [] */
  v8Flags?: string[];
}

export interface CheckBatchItem {
  spec: CheckSpec;
  /** epoch ms the check was due */
  scheduledAt: number;
  /** its interval: started late, the check serves its latest due slot (serve-slot.ts); 0 = exactly scheduledAt */
  everyMs?: number;
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
/**
 * After a task settles, how long to wait for results still on their way: a thread posts a task's
 * last results before the task resolves, but on another port, so they may arrive just after.
 */
const DRAIN_WAIT_MS = 2000;
/** Same after a thread died: Node delivers what it posted before its 'exit'; this is a margin. */
const DEATH_DRAIN_MS = 50;

/** A task in flight: checks batch[from .. from+n) */
interface TaskState {
  batch: CheckBatchItem[];
  from: number;
  n: number;
  results: CheckResult[];
  emit: (rs: CheckResult[]) => void;
  got: Uint8Array;
  received: number;
  settled: boolean;
  finish: () => void;
}

export class CheckPool {
  private readonly piscina: Piscina<ThreadTask, number>;
  private readonly online: Promise<void>;
  private readonly worker: string;
  private readonly threads: number;
  private readonly maxPerTask: number;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly running = new Set<Promise<void>>();
  private readonly tasks = new Map<number, TaskState>();
  private taskSeq = 0;
  private inFlight = 0;
  private completed = 0;
  private threadDeaths = 0;
  private closing = false;
  private closed = false;
  private readonly serveCap = createServeCap();

  constructor(opts: CheckPoolOptions) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1)
      throw new RangeError('threads must be an integer >= 1');
    this.worker = opts.worker;
    this.threads = opts.threads;
    this.maxPerTask = intOption('maxChecksPerTask', opts.maxChecksPerTask, 256, 1);
    this.logger = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? systemClock;
    const settings: ThreadSettings = {
      worker: opts.worker,
      maxConcurrent: intOption('maxConcurrentPerThread', opts.maxConcurrentPerThread, 256, 1),
      flushMs: numberOption('flushMs', opts.flushMs, 5, 0),
      flushSize: intOption('flushSize', opts.flushSize, 64, 1),
      v8Flags: opts.v8Flags ?? [],
      serveCap: this.serveCap.buffer,
    };
    const started = startThreads({
      filename: opts.filename ?? resolveThreadFile(),
      threads: opts.threads,
      settings,
      youngGenerationMb: opts.youngGenerationMb ?? 16,
      oldGenerationMb: opts.oldGenerationMb ?? 256,
      env: opts.env,
    });
    this.piscina = started.piscina;
    this.online = started.online;
    this.piscina.on('message', (m: unknown) => {
      if (isResultMessage(m)) this.onResults(m);
    });
    // Piscina reports a thread error with no task attached as an 'error' event; never crash on it.
    this.piscina.on('error', (err: unknown) => {
      this.logger.warn({ err: errorText(err) }, 'check thread error');
    });
  }

  /**
   * The latest slot a check that starts late may serve instead of its own (serve-slot.ts); the
   * threads read it from shared memory as each check starts.
   */
  setServeCap(atOrBefore: number): void {
    this.serveCap.view[0] = atOrBefore;
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
      for (let i = 0; i < batch.length; i++) results[i] = failedResult(batch[i]!, SHUTDOWN, now, this.worker);
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
    const specs = new Array<WireSpec>(n);
    const scheduledAt = new Array<number>(n);
    const everyMs = new Array<number>(n);
    for (let k = 0; k < n; k++) {
      const item = batch[from + k]!;
      specs[k] = encodeSpec(item.spec);
      scheduledAt[k] = item.scheduledAt;
      everyMs[k] = item.everyMs ?? 0;
    }
    const submittedAt = this.clock.now();
    this.inFlight += n;
    const id = ++this.taskSeq;

    return new Promise<void>((resolve) => {
      let taskError: unknown = null;
      let finished = false;
      let drainTimer: ReturnType<Clock['setTimeout']> | null = null;

      const finish = (): void => {
        if (finished) return;
        finished = true;
        this.tasks.delete(id);
        if (drainTimer !== null) this.clock.clearTimeout(drainTimer);
        if (st.received < n) {
          const reason = this.closing ? SHUTDOWN : taskError !== null ? THREAD_DIED : RESULT_LOST;
          if (reason === THREAD_DIED) this.threadDeaths++;
          this.logger.warn(
            { checks: n - st.received, reason, err: errorText(taskError) },
            'checks lost by thread',
          );
          const lost: CheckResult[] = [];
          for (let k = 0; k < n; k++) {
            if (st.got[k]) continue;
            const r = failedResult(batch[from + k]!, reason, submittedAt, this.worker);
            results[from + k] = r;
            lost.push(r);
          }
          emit(lost);
        }
        this.inFlight -= n;
        resolve();
      };

      const st: TaskState = {
        batch,
        from,
        n,
        results,
        emit,
        got: new Uint8Array(n),
        received: 0,
        settled: false,
        finish,
      };
      this.tasks.set(id, st);

      const settled = (waitMs: number): void => {
        st.settled = true;
        if (st.received === n) finish();
        else drainTimer = this.clock.setTimeout(finish, waitMs);
      };
      const task: ThreadTask = { task: id, specs, scheduledAt, everyMs };
      this.piscina.run(task).then(
        () => settled(DRAIN_WAIT_MS),
        (err) => {
          taskError = err ?? new Error('task failed');
          settled(DEATH_DRAIN_MS);
        },
      );
    });
  }

  /** A micro-batch from a thread: results of one or more of its tasks. */
  private onResults(m: ResultMessage): void {
    const count = m.errors.length;
    let st: TaskState | undefined;
    let stId = -1;
    let fresh: CheckResult[] = [];
    const flush = (): void => {
      if (st === undefined) return;
      if (fresh.length > 0) st.emit(fresh);
      if (st.received === st.n && st.settled) st.finish();
      fresh = [];
    };
    for (let j = 0; j < count; j++) {
      const o = j * NUMS_PER_RESULT;
      const id = m.nums[o]!;
      if (id !== stId) {
        flush();
        stId = id;
        st = this.tasks.get(id);
      }
      if (st === undefined) continue; // its task already finished (thread death, drain timeout)
      const k = m.nums[o + 1]!;
      if (k >= st.n || st.got[k]) continue;
      st.got[k] = 1;
      st.received++;
      const r = decodedResult(m, j, st.batch[st.from + k]!.spec.id, this.worker);
      st.results[st.from + k] = r;
      fresh.push(r);
    }
    flush();
  }

  /**
   * Resolves once every thread has started and the V8 flags are set again. Until then the caller
   * should not allocate much: this thread's young generation could grow for good.
   */
  started(): Promise<void> {
    return this.online;
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
