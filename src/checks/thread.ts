/**
 * Entry of a check thread (piscina worker). One task = many checks; see batch-runner.ts.
 * Loaded from dist/ (compiled JavaScript) even when the pool runs from TypeScript sources.
 */
import { workerData } from 'node:worker_threads';
import { createBatchRunner } from './batch-runner.js';
import type { ThreadSettings, ThreadTask } from './wire.js';

// Checks only ever report short reasons, never stacks; capturing a stack for every socket error
// undici creates (one per fresh connection: the `reset` InformationalError) costs 10-20% of a
// fresh-connection check. WATCHER_THREAD_STACKS=1 brings them back for debugging.
Error.stackTraceLimit = process.env.WATCHER_THREAD_STACKS === '1' ? 10 : 0;

const run = createBatchRunner(workerData as ThreadSettings);

export default function checkTask(task: ThreadTask): Promise<number> {
  return run(task);
}
