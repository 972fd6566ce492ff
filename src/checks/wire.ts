/**
 * What crosses the thread boundary between CheckPool (main) and thread.ts (check threads).
 *
 * Main -> thread: one piscina task per chunk of checks. Thread -> main: results of any of the
 * thread's tasks, coalesced into one `ResultMessage` per flush, posted on the thread's own
 * `parentPort` (surfaced by piscina as its 'message' event). One persistent port per thread:
 * no MessageChannel per task. A result carries only what the main thread does not already know
 * (the endpoint, scheduled_at and worker id come from the task), so that little is cloned.
 */
import type { CheckSpec } from '../model/endpoint.js';
import type { PhaseTimings } from '../model/result.js';

/** One piscina task: many checks; `task` is the pool's id for it. Resolves when its results are posted. */
export interface ThreadTask {
  task: number;
  specs: CheckSpec[];
  scheduledAt: number[];
  /** per check: its interval for serve-slot.ts (0 = serve exactly `scheduledAt`) */
  everyMs: number[];
}

/** Numbers per result in `ResultMessage.nums`: task, index in task, started_at, duration_ms, ok (1/0), status_code (-1 = null), slot served. */
export const NUMS_PER_RESULT = 7;

/** A micro-batch of results, possibly of several tasks. Entry k: nums[7k..7k+6], errors[k], values[k], timings[k]. */
export interface ResultMessage {
  watcherResults: 1;
  nums: number[];
  errors: (string | null)[];
  /** null = no captured values */
  values: (Record<string, string> | null)[];
  timings: (PhaseTimings | null)[];
}

export function isResultMessage(m: unknown): m is ResultMessage {
  return typeof m === 'object' && m !== null && (m as { watcherResults?: unknown }).watcherResults === 1;
}

/** Per-thread settings, passed as piscina workerData. */
export interface ThreadSettings {
  worker: string;
  maxConcurrent: number;
  flushMs: number;
  flushSize: number;
  /** V8 flags the thread sets again as it starts (Node resets them for every new thread) */
  v8Flags: string[];
  /** one float64 written by the main thread: the latest slot a late check may serve (serve-slot.ts) */
  serveCap: SharedArrayBuffer;
}

/** Only the CheckSpec fields: an Endpoint's schedule, sinks and secrets never enter a thread. */
export function toCheckSpec(s: CheckSpec): CheckSpec {
  const out: CheckSpec = {
    id: s.id,
    url: s.url,
    method: s.method,
    headers: s.headers,
    body: s.body,
    timeoutMs: s.timeoutMs,
    connectTimeoutMs: s.connectTimeoutMs,
    followRedirects: s.followRedirects,
    maxRedirects: s.maxRedirects,
    tlsVerify: s.tlsVerify,
    keepalive: s.keepalive,
    maxBodyBytes: s.maxBodyBytes,
    successTests: s.successTests,
    responseJsonValues: s.responseJsonValues,
  };
  if (s.probe !== undefined) out.probe = s.probe;
  return out;
}
