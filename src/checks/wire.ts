/**
 * What crosses the thread boundary between CheckPool (main) and thread.ts (check threads).
 *
 * Main -> thread: one piscina task per chunk of checks. Thread -> main: results of any of the
 * thread's tasks, coalesced into one `ResultMessage` per flush, posted on the thread's own
 * `parentPort` (surfaced by piscina as its 'message' event). One persistent port per thread:
 * no MessageChannel per task. A result carries only what the main thread does not already know
 * (the endpoint, scheduled_at and worker id come from the task), so that little is cloned.
 */
import type { CheckSpec, ProbeOptions } from '../model/endpoint.js';
import type { PhaseTimings } from '../model/result.js';

/** One piscina task: many checks; `task` is the pool's id for it. Resolves when its results are posted. */
export interface ThreadTask {
  task: number;
  /** per check: its CheckSpec as a tuple (encodeSpec) */
  specs: WireSpec[];
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

/**
 * A CheckSpec on the wire: its fields in a fixed order. Structured clone writes (and the thread
 * reads back) every property name of every object; as an array of values a spec serializes in a
 * half to a third of the time on the main thread, and the thread's side costs about the same as
 * before (its nested objects dominate there; bench/checks/wire-clone.mjs, bench/README.md).
 */
export type WireSpec = readonly [
  id: string,
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | null,
  timeoutMs: number,
  connectTimeoutMs: number,
  followRedirects: boolean,
  maxRedirects: number,
  tlsVerify: boolean,
  keepalive: boolean,
  maxBodyBytes: number,
  successTests: CheckSpec['successTests'],
  responseJsonValues: string[],
  /** null when absent: an `undefined` element makes V8's deserializer slower for the whole array */
  probe: ProbeOptions | null,
];

/** Cached per spec object: endpoints are not changed once normalised (a new config makes new objects). */
const wireSpecs = new WeakMap<CheckSpec, WireSpec>();

export function encodeSpec(s: CheckSpec): WireSpec {
  let w = wireSpecs.get(s);
  if (w === undefined) {
    w = tupleOf(s);
    wireSpecs.set(s, w);
  }
  return w;
}

function tupleOf(s: CheckSpec): WireSpec {
  return [
    s.id,
    s.url,
    s.method,
    s.headers,
    s.body,
    s.timeoutMs,
    s.connectTimeoutMs,
    s.followRedirects,
    s.maxRedirects,
    s.tlsVerify,
    s.keepalive,
    s.maxBodyBytes,
    s.successTests,
    s.responseJsonValues,
    s.probe ?? null,
  ];
}

/** The CheckSpec of a WireSpec (the thread side of encodeSpec). */
export function decodeSpec(w: WireSpec): CheckSpec {
  const out: CheckSpec = {
    id: w[0],
    url: w[1],
    method: w[2],
    headers: w[3],
    body: w[4],
    timeoutMs: w[5],
    connectTimeoutMs: w[6],
    followRedirects: w[7],
    maxRedirects: w[8],
    tlsVerify: w[9],
    keepalive: w[10],
    maxBodyBytes: w[11],
    successTests: w[12],
    responseJsonValues: w[13],
  };
  if (w[14] !== null) out.probe = w[14];
  return out;
}

/** Only the CheckSpec fields: an Endpoint's schedule, sinks and secrets never enter a thread. */
export function toCheckSpec(s: CheckSpec): CheckSpec {
  return decodeSpec(tupleOf(s));
}
