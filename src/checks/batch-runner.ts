/**
 * Thread side of the pool: runs a task's checks concurrently (bounded per thread, across all
 * tasks of the thread) and streams results back in micro-batches: a batch is posted when it
 * reaches flushSize results or flushMs after its first result, so one hung check never holds
 * back the others.
 */
import type { MessagePort } from 'node:worker_threads';
import type { CheckResult } from '../model/result.js';
import { runCheck } from './run-check.js';
import { applyTestHook } from './test-hooks.js';
import type { ResultMessage, ThreadSettings, ThreadTask } from './wire.js';

/** FIFO limiter of concurrently running checks in this thread. */
class Limiter {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly max: number) {}

  run(fn: () => Promise<void>): void {
    if (this.running < this.max) {
      this.start(fn);
    } else {
      this.waiting.push(() => this.start(fn));
    }
  }

  private start(fn: () => Promise<void>): void {
    this.running++;
    fn().finally(() => {
      this.running--;
      this.waiting.shift()?.();
    });
  }
}

class Outbox {
  private idx: number[] = [];
  private results: CheckResult[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly port: MessagePort,
    private readonly flushSize: number,
    private readonly flushMs: number,
  ) {}

  push(i: number, r: CheckResult): void {
    this.idx.push(i);
    this.results.push(r);
    if (this.results.length >= this.flushSize) this.flush();
    else this.timer ??= setTimeout(this.flush, this.flushMs);
  }

  readonly flush = (): void => {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.results.length === 0) return;
    const msg: ResultMessage = { idx: this.idx, results: this.results };
    this.idx = [];
    this.results = [];
    this.port.postMessage(msg);
  };
}

export function createBatchRunner(settings: ThreadSettings): (task: ThreadTask) => Promise<number> {
  const limiter = new Limiter(settings.maxConcurrent);
  return (task) =>
    new Promise<number>((resolve) => {
      const { specs, scheduledAt, port } = task;
      const n = specs.length;
      const out = new Outbox(port, settings.flushSize, settings.flushMs);
      let left = n;
      const done = (): void => {
        out.flush();
        port.close();
        resolve(n);
      };
      if (n === 0) return done();
      for (let i = 0; i < n; i++) {
        limiter.run(async () => {
          const spec = specs[i]!;
          applyTestHook(spec);
          const r = await runCheck(spec, scheduledAt[i]!, settings.worker);
          out.push(i, r);
          if (--left === 0) done();
        });
      }
    });
}
