/**
 * V8 heap sizing for the whole process (main thread and check threads share V8's flags), set at
 * startup before any thread exists. Measured in bench/README.md ("Engine").
 *
 * Old generation: with 10,000 endpoints the main heap holds ~40-45 MB live, but V8's default
 * growth lets old space reach 110-145 MB before a full GC (results, alert states and heap nodes
 * live a whole interval, so they are promoted and die in old space). A growing factor of 1.3
 * keeps it at 55-65 MB (8 full GCs in 40 s instead of 1-2; each mostly concurrent).
 * WATCHER_HEAP_GROWING_PERCENT=0 restores V8's default.
 *
 * Young generation: V8 grows each isolate's semi-spaces from 1 MB up to 16 MB when many objects
 * survive a scavenge, which under steady check traffic they always do: ~50 MB of the process's
 * RSS at 10,000 endpoints. A growth factor of 1 keeps them at 1 MB: scavenges are more frequent
 * but each copies as little, and CPU per check did not move measurably. V8 accepts a factor below
 * 2 only when set at run time (from the command line it is raised to 2), so it is set here, before
 * the heap has grown. WATCHER_SEMI_SPACE_GROWTH=2 restores V8's default.
 *
 * Check threads' young generation: WATCHER_THREAD_SEMI_SPACE_MB=N (default 0: V8's start size,
 * which differs by version: a new thread's new space is 2 MB on Node 20, 4 MB on Node 22.23) sets
 * V8's minimum semi-space for isolates created from then on, which are the check threads only (this
 * one exists already). A check thread's live set is its checks in flight, so with a 1 MB semi-space
 * about half of what a scavenge finds survives and is copied. At 2,000 fresh checks/s, 3-4 MB took
 * 20-50 µs off the 250-310 µs of a check (whole process, noisy runs) and added 12-20 MB of RSS
 * (bench/README.md, issue 16): off by default for the memory budget.
 *
 * V8 raises a semi-space growth factor below 2 back to 2 whenever it creates an isolate, so every
 * worker thread's start undoes it for the whole process: the check pool sets the flags again when
 * each thread comes online, and each thread as it starts (see checks/pool.ts and thread.ts).
 */
import { setFlagsFromString } from 'node:v8';

export const DEFAULT_HEAP_GROWING_PERCENT = 30;
export const DEFAULT_SEMI_SPACE_GROWTH = 1;
export const DEFAULT_THREAD_SEMI_SPACE_MB = 0;

function intFromEnv(raw: string | undefined, fallback: number, min: number, max: number): number {
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  return Number.isInteger(n) && n >= min && n <= max ? n : fallback;
}

export interface HeapTuning {
  heapGrowingPercent: number;
  semiSpaceGrowth: number;
  threadSemiSpaceMb: number;
}

export function tuneHeap(env: NodeJS.ProcessEnv = process.env): HeapTuning {
  const heapGrowingPercent = intFromEnv(
    env.WATCHER_HEAP_GROWING_PERCENT,
    DEFAULT_HEAP_GROWING_PERCENT,
    0,
    1000,
  );
  const semiSpaceGrowth = intFromEnv(env.WATCHER_SEMI_SPACE_GROWTH, DEFAULT_SEMI_SPACE_GROWTH, 1, 16);
  const threadSemiSpaceMb = intFromEnv(env.WATCHER_THREAD_SEMI_SPACE_MB, DEFAULT_THREAD_SEMI_SPACE_MB, 0, 64);
  // heap-growing-percent 0 is V8's own "no override" value.
  applied = [`--heap-growing-percent=${heapGrowingPercent}`, `--semi-space-growth-factor=${semiSpaceGrowth}`];
  // Read by V8 only when it creates an isolate: this one exists already, so it sizes the check threads.
  if (threadSemiSpaceMb > 0) applied.push(`--min-semi-space-size=${threadSemiSpaceMb}`);
  applyHeapFlags(applied);
  return { heapGrowingPercent, semiSpaceGrowth, threadSemiSpaceMb };
}

let applied: string[] = [];

/** The V8 flags tuneHeap() set in this process ([] when it was not called). */
export function heapFlags(): string[] {
  return [...applied];
}

export function applyHeapFlags(flags: readonly string[]): void {
  for (const f of flags) setFlagsFromString(f);
}
