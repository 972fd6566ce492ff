/**
 * Jobsets this worker gave away because it cannot reach one of their endpoints while others can
 * (`confirm: 1`, docs/CLUSTER.md "Second opinion before DOWN"): it does not claim them back for
 * `holdMs`. Others claim them as any released jobset (its backup claimers step in when the plan
 * ranks this worker first).
 */
import type { Clock } from '../../model/clock.js';

export const MOVE_AWAY_HOLD_MS = 10 * 60_000;

export class AvoidList {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly holdMs = MOVE_AWAY_HOLD_MS,
  ) {}

  add(jsid: string): void {
    this.until.set(jsid, this.clock.monotonic() + this.holdMs);
  }

  has(jsid: string): boolean {
    const t = this.until.get(jsid);
    if (t === undefined) return false;
    if (this.clock.monotonic() < t) return true;
    this.until.delete(jsid);
    return false;
  }
}
