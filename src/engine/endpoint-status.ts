/**
 * The engine's per-job record as the status document shows it: one row per owned endpoint, with
 * the latency ring behind the dashboard's sparkline.
 */
import type { EngineControls } from '../controls/holds.js';
import type { AlertState } from '../model/alert.js';
import type { Endpoint } from '../model/endpoint.js';
import type { CheckResult } from '../model/result.js';

export interface EndpointStatus {
  name: string;
  file: string;
  url: string;
  state: string;
  suppressed: boolean;
  /** inside a maintenance window now / silenced by an operator now / paused by an operator */
  maintenance: boolean;
  silenced: boolean;
  paused: boolean;
  since: number;
  next_due: number | null;
  /** slots of this endpoint not run while owned here (overlap, behind, no lease) */
  skipped_slots: number;
  depends_on: string[];
  last: CheckResult | null;
  /** latency of the last HISTORY_SIZE checks run here, oldest first; null = the check failed */
  history_ms: Array<number | null>;
}

/** Results kept per endpoint for the dashboard's sparkline (memory: 4 bytes each). */
export const HISTORY_SIZE = 30;

/** The last HISTORY_SIZE latencies of one endpoint (NaN = failed), in a fixed ring. */
export class LatencyRing {
  private readonly ms = new Float32Array(HISTORY_SIZE);
  private next = 0;
  private count = 0;

  add(ms: number): void {
    this.ms[this.next] = ms;
    this.next = (this.next + 1) % HISTORY_SIZE;
    if (this.count < HISTORY_SIZE) this.count++;
  }

  list(): Array<number | null> {
    const out: Array<number | null> = [];
    for (let i = this.count; i > 0; i--) {
      const v = this.ms[(this.next - i + HISTORY_SIZE) % HISTORY_SIZE]!;
      out.push(Number.isNaN(v) ? null : Math.round(v * 10) / 10);
    }
    return out;
  }
}

/** What the engine keeps per owned job. */
export interface Job {
  endpoint: Endpoint;
  intervalMs: number;
  last: CheckResult | null;
  suppressed: boolean;
  skipped: number;
  history: LatencyRing;
}

/** Where a status row's other parts come from (alert book, controls, scheduler). */
export interface StatusSources {
  alertOf(name: string): AlertState | undefined;
  controls: EngineControls | undefined;
  nextDueOf(name: string): number | undefined;
}

/** One row per job, in `order` (names without a job are left out). */
export function statusRows(
  order: readonly string[],
  jobs: ReadonlyMap<string, Job>,
  from: StatusSources,
  now: number,
): EndpointStatus[] {
  const out: EndpointStatus[] = [];
  for (const name of order) {
    const job = jobs.get(name);
    if (!job) continue;
    const st = from.alertOf(name);
    const hold = from.controls?.holdOf(job.endpoint, now);
    out.push({
      name,
      file: job.endpoint.file,
      url: job.endpoint.url,
      state: st?.state ?? 'UNKNOWN',
      suppressed: job.suppressed,
      maintenance: hold?.maintenance ?? false,
      silenced: hold?.silenced ?? false,
      paused: from.controls?.paused(name) ?? false,
      since: st?.since ?? 0,
      next_due: from.nextDueOf(name) ?? null,
      skipped_slots: job.skipped,
      depends_on: job.endpoint.dependsOn,
      last: job.last,
      history_ms: job.history.list(),
    });
  }
  return out;
}
