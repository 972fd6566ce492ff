/**
 * Public surface of the check engine for the main thread. It does not load undici: probes run in
 * the pool's threads. runCheck/probes (thread-side, or for in-process use) live in run-check.ts
 * and registry.ts.
 */

export {
  type CheckBatchItem,
  CheckPool,
  type CheckPoolOptions,
  type CheckPoolStats,
  type ResultListener,
} from './pool.js';
export type { Probe, ProbeOutcome, ProbeSignal } from './probe.js';
export { probeKindOf } from './probe.js';
export { isLocalReason, LOCAL_PREFIX, localCodeOf, SHUTDOWN, THREAD_DIED } from './reasons.js';
export { toCheckSpec } from './wire.js';
