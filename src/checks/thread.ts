/**
 * Entry of a check thread (piscina worker). One task = many checks; see batch-runner.ts.
 * Results go back on this thread's parentPort (piscina re-emits them as its 'message' event).
 * Loaded from dist/ (compiled JavaScript) even when the pool runs from TypeScript sources.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { applyHeapFlags } from '../heap-tuning.js';
import { createBatchRunner } from './batch-runner.js';
import type { ResultMessage, ThreadSettings, ThreadTask } from './wire.js';

// Checks only ever report short reasons, never stacks; capturing a stack for every socket error
// undici creates (one per fresh connection: the `reset` InformationalError) costs 10-20% of a
// fresh-connection check. WATCHER_THREAD_STACKS=1 brings them back for debugging.
Error.stackTraceLimit = process.env.WATCHER_THREAD_STACKS === '1' ? 10 : 0;

const port = parentPort;
if (port === null) throw new Error('check thread entry loaded outside a worker thread');
const settings = workerData as ThreadSettings;
// Starting this thread put some of the process's V8 flags back: set the heap tuning again (it
// applies to every thread of the process; see heap-tuning.ts). The pool does the same when it
// sees the thread online; this covers a thread piscina starts later, in place of a dead one.
applyHeapFlags(settings.v8Flags);
const run = createBatchRunner(settings, (m: ResultMessage) => port.postMessage(m));

export default function checkTask(task: ThreadTask): Promise<number> {
  return run(task);
}
