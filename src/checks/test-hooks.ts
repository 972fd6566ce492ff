/**
 * Fault injection for tests of the pool, honoured only when WATCHER_TEST_HOOKS=1 is set in the
 * thread's environment. A spec with header `x-watcher-test-hook: <action>:<ms>` triggers, <ms>
 * after its check starts:
 *   exit:<ms>   process.exit(7) inside the thread (the thread dies)
 *   throw:<ms>  an uncaught exception in the thread (the thread dies)
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
