/**
 * V8 heap growth for the whole process (main thread and check threads share V8's flags).
 *
 * With 10,000 endpoints the main heap holds ~40-45 MB live, but V8's default growth lets old
 * space reach 110-145 MB before a full GC (results, alert states and heap nodes live a whole
 * interval, so they are promoted and die in old space). A growing factor of 1.3 keeps it at
 * 55-65 MB (8 full GCs in 40 s instead of 1-2; each mostly concurrent). Measured in
 * bench/README.md ("Engine"). WATCHER_HEAP_GROWING_PERCENT=0 restores V8's default.
 */
import { setFlagsFromString } from 'node:v8';

export const DEFAULT_HEAP_GROWING_PERCENT = 30;

export function tuneHeapGrowth(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.WATCHER_HEAP_GROWING_PERCENT;
  const n = raw === undefined || raw === '' ? DEFAULT_HEAP_GROWING_PERCENT : Number(raw);
  const percent = Number.isInteger(n) && n >= 0 && n <= 1000 ? n : DEFAULT_HEAP_GROWING_PERCENT;
  // 0 is V8's own "no override" value.
  setFlagsFromString(`--heap-growing-percent=${percent}`);
  return percent;
}
