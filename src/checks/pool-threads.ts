/**
 * The piscina instance behind CheckPool: a fixed number of long-lived threads, each holding many
 * tasks, with this worker's heap limits and V8 flags.
 */
import { Piscina } from 'piscina';
import { applyHeapFlags } from '../heap-tuning.js';
import type { ThreadSettings, ThreadTask } from './wire.js';

export interface ThreadPoolOptions {
  /** the thread entry (thread-file.ts) */
  filename: string;
  threads: number;
  settings: ThreadSettings;
  youngGenerationMb: number;
  oldGenerationMb: number;
  /** extra environment variables for the threads */
  env: Record<string, string> | undefined;
}

export interface StartedThreads {
  piscina: Piscina<ThreadTask, number>;
  /** resolves once every thread is online and has set the V8 flags again */
  online: Promise<void>;
}

export function startThreads(opts: ThreadPoolOptions): StartedThreads {
  const { settings } = opts;
  const piscina = new Piscina<ThreadTask, number>({
    filename: opts.filename,
    minThreads: opts.threads,
    maxThreads: opts.threads,
    // Tasks are long (they hold many network checks); the real limit is maxConcurrent in the thread.
    concurrentTasksPerWorker: 1024,
    idleTimeout: 60_000,
    // Threads must keep their event loop running between tasks (sockets, timers).
    atomics: 'disabled',
    // piscina's run/wait-time histograms (~350 KB each) are not read: the pool keeps its own stats
    recordTiming: false,
    workerData: settings,
    resourceLimits: {
      maxYoungGenerationSizeMb: opts.youngGenerationMb,
      maxOldGenerationSizeMb: opts.oldGenerationMb,
    },
    ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
  });
  // Each thread's start puts the V8 flags back (see heap-tuning.ts): set them again as soon as
  // it is online, before this thread's heap can grow under the start-up values.
  const online = Promise.all(
    piscina.threads.map(
      (t) =>
        new Promise<void>((resolve) => {
          t.once('online', () => {
            applyHeapFlags(settings.v8Flags);
            resolve();
          });
          t.once('exit', () => resolve());
        }),
    ),
  ).then(() => undefined);
  return { piscina, online };
}
