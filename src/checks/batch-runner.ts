/**
 * Thread side of the pool: runs each task's checks concurrently (bounded per thread, across all
 * tasks of the thread) and streams results back in micro-batches shared by all tasks of the
 * thread: a batch is posted when it reaches flushSize results or flushMs after its first result,
 * so one hung check never holds back the others. A task resolves once all its results have been
 * posted.
 */
import type { CheckResult } from '../model/result.js';
import { CheckLimiter } from './limiter.js';
import { runCheck } from './run-check.js';
import { servedSlot } from './serve-slot.js';
import { applyTestHook, testCheckCost, testCheckSlots } from './test-hooks.js';
import { decodeSpec, type ResultMessage, type ThreadSettings, type ThreadTask } from './wire.js';

class Outbox {
  private nums: number[] = [];
  private errors: (string | null)[] = [];
  private values: (Record<string, string> | null)[] = [];
  private timings: ResultMessage['timings'] = [];
  /** tasks whose last result is in the current buffer: resolved right after it is posted */
  private afterFlush: Array<() => void> = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly post: (m: ResultMessage) => void,
    private readonly flushSize: number,
    private readonly flushMs: number,
  ) {}

  push(task: number, i: number, r: CheckResult): void {
    this.nums.push(task, i, r.started_at, r.duration_ms, r.ok ? 1 : 0, r.status_code ?? -1, r.scheduled_at);
    this.errors.push(r.error);
    this.values.push(hasKeys(r.values) ? r.values : null);
    this.timings.push(r.timings ?? null);
    if (this.errors.length >= this.flushSize) this.flush();
    else this.timer ??= setTimeout(this.flush, this.flushMs);
  }

  /** Runs `fn` once everything pushed so far has been posted. */
  whenPosted(fn: () => void): void {
    if (this.errors.length === 0) fn();
    else this.afterFlush.push(fn);
  }

  readonly flush = (): void => {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.errors.length > 0) {
      const msg: ResultMessage = {
        watcherResults: 1,
        nums: this.nums,
        errors: this.errors,
        values: this.values,
        timings: this.timings,
      };
      this.nums = [];
      this.errors = [];
      this.values = [];
      this.timings = [];
      this.post(msg);
    }
    const after = this.afterFlush;
    if (after.length === 0) return;
    this.afterFlush = [];
    for (const fn of after) fn();
  };
}

function hasKeys(o: Record<string, string>): boolean {
  for (const _ in o) return true;
  return false;
}

/** `post` delivers a ResultMessage to the main thread (the thread's parentPort). */
export function createBatchRunner(
  settings: ThreadSettings,
  post: (m: ResultMessage) => void,
): (task: ThreadTask) => Promise<number> {
  const limiter = new CheckLimiter(testCheckSlots() ?? settings.maxConcurrent);
  const out = new Outbox(post, settings.flushSize, settings.flushMs);
  const cap = new Float64Array(settings.serveCap);
  return (task) =>
    new Promise<number>((resolve) => {
      const { task: id, specs, scheduledAt, everyMs } = task;
      const n = specs.length;
      if (n === 0) return resolve(0);
      let left = n;
      for (let i = 0; i < n; i++) {
        limiter.run(async () => {
          const spec = decodeSpec(specs[i]!);
          applyTestHook(spec);
          const slot = servedSlot(scheduledAt[i]!, everyMs[i] ?? 0, Date.now(), cap[0]!);
          const r = await runCheck(spec, slot, settings.worker);
          out.push(id, i, r);
          if (--left === 0) out.whenPosted(() => resolve(n));
          await testCheckCost(r.started_at); // null (no wait) unless test hooks are enabled
          return r.error;
        });
      }
    });
}
