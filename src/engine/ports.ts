/**
 * What the engine is given to work with besides the coordinator: the runner of checks, where
 * results go, and who hears about its own health.
 */
import type { StateChange } from '../model/alert.js';
import type { CheckSpec, Endpoint } from '../model/endpoint.js';
import type { CheckResult } from '../model/result.js';
import type { OverloadReading } from './overload.js';
import type { SkipReason } from './skips.js';

/** Runs batches of checks (the thread pool); reports each result as soon as it is known. */
export interface CheckRunner {
  /** `everyMs`: a check that starts late serves its latest slot up to the serve cap (0 = never) */
  run(
    batch: Array<{ spec: CheckSpec; scheduledAt: number; everyMs: number }>,
    onResult: (r: CheckResult) => void,
  ): Promise<void>;
  /** the latest slot a late check may serve instead of its own (checks/serve-slot.ts) */
  setServeCap(atOrBefore: number): void;
  close(graceMs: number): Promise<void>;
}

/** Where results and state changes go (sinks, results file, metrics, live events). */
export interface ResultOutputs {
  result(r: CheckResult, endpoint: Endpoint): void;
  stateChange(c: StateChange, endpoint: Endpoint): void;
}

/** What the engine reports about its own health (metrics, self events, logs). */
export interface EngineObserver {
  /** slots not run, by reason (at most one pending check per endpoint; see skips.ts) */
  skipped(reason: SkipReason, n: number): void;
  /** once a second: the overload verdict and the share of due slots run over the last minute */
  tick(reading: OverloadReading, coverage: number): void;
}
