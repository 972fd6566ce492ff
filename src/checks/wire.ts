/** What crosses the thread boundary between CheckPool (main) and thread.ts (check threads). */
import type { MessagePort } from 'node:worker_threads';
import type { CheckSpec } from '../model/endpoint.js';
import type { CheckResult } from '../model/result.js';

/** One piscina task: many checks. Results stream back through `port`, then the port is closed. */
export interface ThreadTask {
  specs: CheckSpec[];
  scheduledAt: number[];
  port: MessagePort;
}

/** A micro-batch of results: `results[k]` is the result of `specs[idx[k]]`. */
export interface ResultMessage {
  idx: number[];
  results: CheckResult[];
}

/** Per-thread settings, passed as piscina workerData. */
export interface ThreadSettings {
  worker: string;
  maxConcurrent: number;
  flushMs: number;
  flushSize: number;
}

/** Only the CheckSpec fields: an Endpoint's schedule, sinks and secrets never enter a thread. */
export function toCheckSpec(s: CheckSpec): CheckSpec {
  return {
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
}
