/**
 * Entry of a check thread (piscina worker). One task = many checks; see batch-runner.ts.
 * Results go back on this thread's parentPort (piscina re-emits them as its 'message' event).
 * Loaded from dist/ (compiled JavaScript) even when the pool runs from TypeScript sources.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createBatchRunner } from './batch-runner.js';
import type { ResultMessage, ThreadSettings, ThreadTask } from './wire.js';

// Checks only ever report short reasons, never stacks; capturing a stack for every socket error
// undici creates (one per fresh connection: the `reset` InformationalError) costs 10-20% of a
// fresh-connection check. WATCHER_THREAD_STACKS=1 brings them back for debugging.
Error.stackTraceLimit = process.env.WATCHER_THREAD_STACKS === '1' ? 10 : 0;

const port = parentPort;
if (port === null) throw new Error('check thread entry loaded outside a worker thread');
const run = createBatchRunner(workerData as ThreadSettings, (m: ResultMessage) => port.postMessage(m));

export default function checkTask(task: ThreadTask): Promise<number> {
  return run(task);
}
