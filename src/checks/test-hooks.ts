/**
 * Fault injection for tests of the pool, honoured only when WATCHER_TEST_HOOKS=1 is set in the
 * thread's environment. A spec with header `x-watcher-test-hook: <action>:<ms>` triggers, <ms>
 * after its check starts:
 *   exit:<ms>   process.exit(7) inside the thread (the thread dies)
 *   throw:<ms>  an uncaught exception in the thread (the thread dies)
 *
 * A slow worker on purpose (load-spreading tests), also only with WATCHER_TEST_HOOKS=1:
 *   WATCHER_TEST_CHECK_SLOTS=<k>    at most k checks run at once in each thread
 *   WATCHER_TEST_CHECK_COST_MS=<c>  each check holds its slot for at least c ms after it started
 * so a thread serves at most k × 1000 / c checks per second; beyond that, checks queue and start
 * late (lag), like on a CPU-starved host, at no CPU cost.
 */
import type { CheckSpec } from '../model/endpoint.js';

export const TEST_HOOK_HEADER = 'x-watcher-test-hook';
const enabled = process.env.WATCHER_TEST_HOOKS === '1';

export function applyTestHook(spec: CheckSpec): void {
  if (!enabled) return;
  const hook = spec.headers[TEST_HOOK_HEADER];
  if (hook === undefined) return;
  const [action, ms] = hook.split(':');
  const delay = Number(ms ?? 0) || 0;
  if (action === 'exit') {
    setTimeout(() => process.exit(7), delay);
  } else if (action === 'throw') {
    setTimeout(() => {
      throw new Error('test hook: uncaught error in check thread');
    }, delay);
  }
}

function positiveEnv(name: string): number | null {
  if (!enabled) return null; // reading process.env costs ~1% of a keep-alive check's thread time
  const n = Number(process.env[name]);
  return Number.isFinite(n) && n > 0 ? n : null;
}

/** Concurrent checks per thread imposed by WATCHER_TEST_CHECK_SLOTS (null: no test limit). */
export function testCheckSlots(): number | null {
  const k = positiveEnv('WATCHER_TEST_CHECK_SLOTS');
  return k === null ? null : Math.floor(k);
}

/** Resolves when a check started at `startedAt` has held its slot for WATCHER_TEST_CHECK_COST_MS. */
export function testCheckCost(startedAt: number): Promise<void> | null {
  const cost = positiveEnv('WATCHER_TEST_CHECK_COST_MS');
  if (cost === null) return null;
  const left = startedAt + cost - Date.now();
  return left > 0 ? new Promise((resolve) => setTimeout(resolve, left)) : null;
}
