/**
 * Slots due vs slots run (pure, clock-free). A slot is skipped, never queued, when:
 * - `overlap`: the endpoint's previous check is still queued or running (at most one pending
 *   check per endpoint, like Prometheus' scrape loop);
 * - `behind`: the timer fired after the endpoint's next slot had already come (a blocked event
 *   loop): the latest slot runs, the earlier ones are passed over;
 * - `no_lease`: the coordinator said this worker may not run it (its lease may have expired,
 *   `--on-partition pause`).
 * Coverage = slots run / slots due over the last minute (1 when nothing was due).
 */
export const SKIP_REASONS = ['overlap', 'behind', 'no_lease'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

const BUCKETS = 60;

export class SkipLedger {
  /** skipped slots since start, by reason */
  readonly totals: Record<SkipReason, number> = { overlap: 0, behind: 0, no_lease: 0 };
  /** slots run since start */
  runTotal = 0;
  private readonly runs = new Float64Array(BUCKETS);
  private readonly skips = new Float64Array(BUCKETS);
  /** the second each bucket holds (epoch s) */
  private readonly second = new Float64Array(BUCKETS).fill(-1);

  ran(n: number, now: number): void {
    this.runTotal += n;
    this.runs[this.bucket(now)]! += n;
  }

  skipped(reason: SkipReason, n: number, now: number): void {
    this.totals[reason] += n;
    this.skips[this.bucket(now)]! += n;
  }

  /** Slots run / slots due over the last minute; 1 when nothing was due. */
  coverage(now: number): number {
    const s = Math.floor(now / 1000);
    let run = 0;
    let skipped = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const at = this.second[i]!;
      if (at < 0 || s - at >= BUCKETS) continue;
      run += this.runs[i]!;
      skipped += this.skips[i]!;
    }
    return run + skipped === 0 ? 1 : run / (run + skipped);
  }

  private bucket(now: number): number {
    const s = Math.floor(now / 1000);
    const i = s % BUCKETS;
    if (this.second[i] !== s) {
      this.second[i] = s;
      this.runs[i] = 0;
      this.skips[i] = 0;
    }
    return i;
  }
}
