/**
 * This worker's load as the cluster sees it: the lag the engine reports once a second, the
 * shedding decisions (ShedController, shedding.ts), the locally-degraded flag (local faults
 * dominate), and the serviceable rate published while overloaded. What to do goes up as events;
 * which jobsets to release is decided by the owned jobsets (pickShed).
 */
import type { ClusterContext } from './context.js';
import { Emitter } from './context.js';
import { type LagStat, ShedController } from './shedding.js';

export interface LoadStateEvents {
  /** shed owned jobsets down to `target` checks/s */
  shed: [target: number, ownRate: number, slope: number | null];
  /** an overload episode began: stop backup claims */
  startedShedding: [];
  /** shedding, rate cap or degraded changed: publish the worker record now and react */
  changed: [];
  /** the lag changed: publish the worker record when the interval allows */
  lag: [];
}

export class LoadState {
  readonly events: Emitter<LoadStateEvents>;
  /** this worker's lag p99 as the engine last reported it (published in workers/<id>) */
  lagP99Ms: number | null = null;
  /** set by the engine while local faults dominate its results: no claims (like an overloaded worker) */
  locallyDegraded = false;
  servedRate: number | null = null;
  private readonly shed: ShedController;
  private lastLocalShedAt = Number.NEGATIVE_INFINITY;
  private servedRateUntil = 0;

  constructor(private readonly ctx: ClusterContext) {
    this.events = new Emitter(ctx.log);
    this.shed = new ShedController(ctx.tuning);
  }

  get shedding(): boolean {
    return this.shed.shedding;
  }

  get rateCap(): number | null {
    return this.shed.rateCap;
  }

  /** No claims while shedding or locally degraded. */
  mayClaim(): boolean {
    return !this.shed.shedding && !this.locallyDegraded;
  }

  setLocallyDegraded(degraded: boolean): void {
    if (this.locallyDegraded === degraded) return;
    this.locallyDegraded = degraded;
    this.ctx.log.warn(
      { degraded },
      degraded ? 'local faults dominate: not claiming' : 'local faults gone: claiming again',
    );
    this.events.emit('changed');
  }

  /**
   * Per-job lag from the engine, once a second: overloaded for a window → shed the most expensive
   * jobsets down to the estimated serviceable rate; claim again only after a recovery window
   * without any job behind, and never above the rate kept (rate cap, for a hold time).
   */
  report(
    stats: ReadonlyMap<string, LagStat>,
    completed: number | undefined,
    lagP99Ms: number | null,
    own: { rate: number; jobsets: number },
  ): void {
    this.lagP99Ms = lagP99Ms;
    this.events.emit('lag');
    if (!this.ctx.running()) return;
    const wasShedding = this.shed.shedding;
    // overload windows and the rate cap's hold run on the monotonic clock (a wall step moves neither)
    const now = this.ctx.clock.monotonic();
    const step = this.shed.update(stats, own.rate, now, completed);
    this.shedForLocalFaults(own, now);
    this.noteServedRate(step.reading.overloaded ? step.reading.servedRate : null, now);
    if (step.changed) {
      if (this.shed.shedding && !wasShedding) {
        this.events.emit('startedShedding');
        this.ctx.log.warn(
          { behind: step.behind, jobs: stats.size, lagP99Ms: this.lagP99Ms, slope: step.slope },
          'falling behind: shedding work, not claiming',
        );
      } else if (!this.shed.shedding && wasShedding) {
        this.ctx.log.info(
          { rateCap: this.shed.rateCap },
          'lag recovered: claiming again (up to the rate cap)',
        );
      } else if (this.shed.rateCap === null) {
        this.ctx.log.info({}, 'rate cap lifted');
      }
      this.events.emit('changed');
    }
    if (step.targetRate !== null) this.events.emit('shed', step.targetRate, own.rate, step.slope);
  }

  /** The owned jobsets released down to `kept` checks/s: that becomes the rate cap. */
  noteShed(kept: number): void {
    this.shed.shed(kept, this.ctx.clock.monotonic());
  }

  /** When the current overload episode began, as wall time (the admin compares it with its own clock). */
  overloadedSinceWall(): number | null {
    const since = this.shed.shedding ? this.shed.last?.since : null;
    if (since === null || since === undefined) return null;
    return Math.round(this.ctx.clock.now() - (this.ctx.clock.monotonic() - since));
  }

  /**
   * While local faults (EMFILE, a dying thread...) are most of this worker's results, its checks
   * are not worth much where they are: every shed window it releases half of what it owns to
   * workers with room, as an overloaded worker does (and publishes `shedding`, so nothing is
   * moved to it meanwhile).
   */
  private shedForLocalFaults(own: { rate: number; jobsets: number }, now: number): void {
    if (!this.locallyDegraded || own.jobsets === 0) return;
    if (now - this.lastLocalShedAt < this.ctx.tuning.shedWindowMs) return;
    this.lastLocalShedAt = now;
    this.events.emit('shed', own.rate / 2, own.rate, null);
  }

  /**
   * The serviceable rate published in the worker record: measured while overloaded (2 significant
   * digits, so that a saturated worker does not rewrite its record for noise), kept for the rate
   * cap's hold time after the episode so that `watcher_cluster_workers_needed` stays informed.
   */
  private noteServedRate(rate: number | null, now: number): void {
    if (rate !== null) {
      this.servedRate = Number(rate.toPrecision(2));
      this.servedRateUntil = now + this.ctx.tuning.rateCapHoldMs;
    } else if (this.servedRate !== null && now >= this.servedRateUntil) {
      this.servedRate = null;
    }
  }
}
