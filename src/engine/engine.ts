/**
 * The check loop of one worker: owned jobs -> scheduler -> check runner (thread pool) -> results
 * -> alert book -> outputs. It knows nothing about etcd or sink wire formats: ownership comes
 * from the Coordinator, results leave through the `ResultSink` callbacks.
 */
import { AlertBook } from '../alerts/index.js';
import { isLocalReason } from '../checks/reasons.js';
import type { AlertStates, JobOwnership, LoadReport, OwnedJob } from '../cluster/coordinator.js';
import { type EngineControls, markHeld } from '../controls/holds.js';
import type { Clock, TimerHandle } from '../model/clock.js';
import type { CheckSpec } from '../model/endpoint.js';
import type { Logger } from '../model/logger.js';
import type { CheckResult } from '../model/result.js';
import { type DueCheck, LagTracker, Scheduler, typicalIntervalMs } from '../schedule/index.js';
import type { ConfirmGate } from './confirm-gate.js';
import { type EndpointStatus, type Job, LatencyRing, statusRows } from './endpoint-status.js';
import {
  DEFAULT_OVERLOAD_TUNING,
  OverloadDetector,
  type OverloadReading,
  type OverloadTuning,
} from './overload.js';
import type { CheckRunner, EngineObserver, ResultOutputs } from './ports.js';
import { RemoteParents } from './remote-parents.js';
import { SkipLedger, type SkipReason } from './skips.js';

export { type EndpointStatus, HISTORY_SIZE } from './endpoint-status.js';
export type { CheckRunner, EngineObserver, ResultOutputs } from './ports.js';

export class Engine {
  private jobs = new Map<string, Job>();
  /** job names in status() order, sorted once per setOwned: sorting 10,000 names per status call took ~20 ms of the main thread */
  private order: string[] = [];
  private readonly scheduler: Scheduler;
  /** Health of `depends_on` parents owned by other workers (cluster mode), refreshed from the coordinator. */
  private readonly remoteParents: RemoteParents;
  private readonly alerts = new AlertBook({ parentState: (name) => this.remoteParents.get(name) });
  readonly lag = new LagTracker();
  private inflight = new Set<Promise<void>>();
  /**
   * Jobs with a check handed to the runner and not reported yet, with the slot it serves. A slot
   * that falls due meanwhile is skipped (never queued), so pending work is bounded by the owned
   * jobs whatever the overload, and the slot that does run is at most about one interval late.
   */
  private readonly pending = new Map<string, number>();
  readonly skips = new SkipLedger();
  private readonly overload: OverloadDetector;
  private lastReading: OverloadReading | null = null;
  private completedSinceTick = 0;
  private stopping = false;
  private tickTimer: TimerHandle | null = null;
  /**
   * Latest slot handed on by the scheduler. One timer turn hands on every due slot at or before its
   * own time, so every slot of an owned job at or before this was dispatched and every later one was
   * not: a jobset given away continues exactly after it (no slot run twice, none skipped).
   */
  private dispatchedThrough = Number.NEGATIVE_INFINITY;
  /**
   * Jobs given away while their check was pending, and the dispatch horizon when the first of
   * them went: until their checks report, a late check serves no slot past it (the new owner runs
   * those), see checks/serve-slot.ts.
   */
  private readonly releasedPending = new Set<string>();
  private releaseHorizon: number | null = null;

  constructor(
    private readonly deps: {
      clock: Clock;
      runner: CheckRunner;
      coordinator: JobOwnership & AlertStates & LoadReport;
      outputs: ResultOutputs;
      logger: Logger;
      observer?: EngineObserver;
      overloadTuning?: OverloadTuning;
      maxBatch?: number;
      /** maintenance windows and operator commands (silence, pause) */
      controls?: EngineControls;
      /** `confirm: 1`: holds a DOWN candidate until another worker ran the check (confirm-gate.ts) */
      confirmGate?: ConfirmGate;
      /** least ms between scheduler wake-ups (Scheduler coalesceMs) [0] */
      coalesceMs?: number;
      /** the wall clock stepped by this much (the schedule was re-planned) */
      onClockStep?: (stepMs: number) => void;
      /** told the dispatch horizon before every batch is handed on (peers watching this process) */
      dispatchBeacon?: { dispatching(through: number): void };
    },
  ) {
    this.overload = new OverloadDetector(deps.overloadTuning ?? DEFAULT_OVERLOAD_TUNING);
    this.remoteParents = new RemoteParents(deps.coordinator, deps.logger);
    this.scheduler = new Scheduler({
      clock: deps.clock,
      onDue: (batch) => this.dispatch(batch),
      maxBatch: deps.maxBatch ?? 256,
      coalesceMs: deps.coalesceMs ?? 0,
      logger: deps.logger,
      onClockStep: deps.onClockStep,
    });
  }

  start(): void {
    this.deps.coordinator.setDispatchHorizon(() => this.dispatchedThrough);
    this.deps.coordinator.onOwnedChange((owned) => this.setOwned(owned));
    this.armTick();
    this.remoteParents.start(() => void this.refreshRemoteParents());
  }

  /** Replace the owned job set; unchanged jobs keep their schedule phase and alert state. */
  setOwned(owned: ReadonlyMap<string, OwnedJob>): void {
    if (this.stopping) return;
    const next = new Map<string, Job>();
    const added: string[] = [];
    for (const [name, o] of owned) {
      const prev = this.jobs.get(name);
      next.set(name, {
        endpoint: o.endpoint,
        intervalMs: typicalIntervalMs(o.endpoint.schedule, this.deps.clock.now()),
        last: prev?.last ?? null,
        suppressed: prev?.suppressed ?? false,
        skipped: prev?.skipped ?? 0,
        history: prev?.history ?? new LatencyRing(),
      });
      this.alerts.configure(name, { policy: o.endpoint.alert, dependsOn: o.endpoint.dependsOn });
      if (!prev) added.push(name);
    }
    for (const name of this.jobs.keys()) {
      if (!next.has(name)) {
        this.alerts.remove(name);
        this.lag.remove(name);
        this.deps.confirmGate?.forget(name);
        if (this.pending.has(name)) {
          this.releasedPending.add(name);
          this.releaseHorizon ??= this.dispatchedThrough;
        }
      }
    }
    this.jobs = next;
    this.order = [...next.keys()].sort((a, b) => a.localeCompare(b));
    this.scheduler.set(
      [...owned.values()].map((o) => ({
        id: o.endpoint.name,
        schedule: o.endpoint.schedule,
        hash: o.endpoint.hash,
        takenOver: o.takenOver,
        dueSince: o.dueSince,
      })),
    );
    if (added.length > 0) {
      this.deps.coordinator.loadAlertStates(added).then(
        (states) => this.alerts.load(states),
        (err: unknown) =>
          this.deps.logger.warn({ err }, 'could not load alert states; starting from UNKNOWN'),
      );
    }
  }

  private dispatch(batch: DueCheck[]): void {
    if (this.stopping) return;
    for (const d of batch) if (d.scheduledAt > this.dispatchedThrough) this.dispatchedThrough = d.scheduledAt;
    this.deps.dispatchBeacon?.dispatching(this.dispatchedThrough);
    const now = this.deps.clock.monotonic(); // coverage buckets: a wall step must not shift them
    if (!this.deps.coordinator.mayRun()) {
      for (const d of batch) {
        const job = this.jobs.get(d.id);
        if (job) this.skip(job, 'no_lease', 1 + d.passed, now);
      }
      return;
    }
    this.updateServeCap();
    const work: Array<{ spec: CheckSpec; scheduledAt: number; everyMs: number }> = [];
    for (const d of batch) {
      const job = this.jobs.get(d.id);
      if (!job || this.deps.controls?.paused(d.id)) continue;
      if (d.passed > 0) this.skip(job, 'behind', d.passed, now);
      if (this.pending.has(d.id)) {
        this.skip(job, 'overlap', 1, now);
        continue;
      }
      this.pending.set(d.id, d.scheduledAt);
      const sched = job.endpoint.schedule;
      work.push({
        spec: job.endpoint,
        scheduledAt: d.scheduledAt,
        everyMs: sched.kind === 'interval' ? sched.everyMs : 0,
      });
    }
    if (work.length === 0) return;
    this.skips.ran(work.length, now);
    const p = this.deps.runner
      .run(work, (r) => this.onResult(r))
      .catch((err: unknown) => this.deps.logger.error({ err }, 'check batch failed'))
      .finally(() => {
        // a runner reports every check; this only guards against one that lost a result
        for (const w of work) if (this.pending.get(w.spec.id) === w.scheduledAt) this.settle(w.spec.id);
      });
    this.inflight.add(p);
    p.finally(() => this.inflight.delete(p));
  }

  private skip(job: Job, reason: SkipReason, n: number, now: number): void {
    job.skipped += n;
    this.skips.skipped(reason, n, now);
    this.deps.observer?.skipped(reason, n);
  }

  /** The endpoint's pending check reported (or was lost). */
  private settle(name: string): void {
    this.pending.delete(name);
    if (this.releasedPending.delete(name) && this.releasedPending.size === 0) {
      this.releaseHorizon = null;
      this.updateServeCap();
    }
  }

  private updateServeCap(): void {
    this.deps.runner.setServeCap(
      Math.min(this.dispatchedThrough, this.releaseHorizon ?? Number.POSITIVE_INFINITY),
    );
  }

  private onResult(r: CheckResult): void {
    // a late check may serve a later slot than it was queued for (never an earlier one)
    const queued = this.pending.get(r.endpoint);
    if (queued !== undefined && queued <= r.scheduled_at && !r.run_now) this.settle(r.endpoint);
    this.completedSinceTick++;
    const job = this.jobs.get(r.endpoint);
    if (!job) return; // given up or removed while the check ran: its new owner reports it
    job.history.add(r.ok ? r.duration_ms : Number.NaN);
    // Lag windows age on the monotonic clock: a wall-clock step neither empties nor freezes them.
    this.lag.record(r.endpoint, r.started_at - r.scheduled_at, this.deps.clock.monotonic());
    const deliver = (x: CheckResult, apply: boolean) => this.deliver(x, apply);
    if (this.deps.confirmGate?.offer(job.endpoint, r, () => this.alerts.get(r.endpoint), deliver)) return;
    this.deliver(r, true);
  }

  /** `apply` false: an `unconfirmed` result, kept and shown but not applied to the alert state. */
  private deliver(r: CheckResult, apply: boolean): void {
    const job = this.jobs.get(r.endpoint);
    if (!job) return;
    const hold = this.deps.controls?.holdOf(job.endpoint, r.started_at) ?? null;
    markHeld(r, hold);
    job.last = r;
    this.deps.outputs.result(r, job.endpoint);
    // A check this worker could not carry out (`local: EMFILE`, ...) says nothing about the target.
    if (!apply || isLocalReason(r.error)) return;
    const change = this.alerts.apply(r);
    if (change) {
      job.suppressed = change.suppressed;
      const state = this.alerts.get(r.endpoint);
      if (state) this.deps.coordinator.saveAlertState(state);
      this.deps.outputs.stateChange(markHeld(change, hold), job.endpoint);
    }
  }

  /** Refresh the health of `depends_on` parents this worker does not own (runs every 2 s in a cluster). */
  refreshRemoteParents(): Promise<void> {
    return this.remoteParents.refresh(this.jobs);
  }

  private armTick(): void {
    this.tickTimer = this.deps.clock.setTimeout(() => {
      this.tickTimer = null;
      if (this.stopping) return;
      this.tick();
      this.armTick();
    }, 1000);
  }

  /**
   * Once a second: each job's lag (the smallest of its last 3 checks, so one late check never
   * counts) feeds the overload verdict, the coordinator (cluster: shedding) and the observer.
   */
  tick(): void {
    const now = this.deps.clock.monotonic();
    const stats = new Map<string, { lagMs: number; intervalMs: number }>();
    for (const [name, job] of this.jobs) {
      const lagMs = this.lag.minOfLast(name, 3, now);
      if (lagMs !== undefined) stats.set(name, { lagMs, intervalMs: job.intervalMs });
    }
    const completed = this.completedSinceTick;
    this.completedSinceTick = 0;
    const reading = this.overload.update(stats, now, completed);
    this.lastReading = reading;
    this.deps.coordinator.reportLag(stats, completed, this.lagP99());
    this.deps.observer?.tick(reading, this.skips.coverage(now));
  }

  /** Slots run / slots due over the last minute (1 when nothing was due). */
  coverage(): number {
    return this.skips.coverage(this.deps.clock.monotonic());
  }

  /** When the current overload episode began, as wall time (null outside an episode). */
  overloadedSince(): number | null {
    const since = this.lastReading?.since;
    if (since === null || since === undefined) return null;
    return Math.round(this.deps.clock.now() - (this.deps.clock.monotonic() - since));
  }

  /** The latest overload verdict (null before the first second). */
  overloadReading(): OverloadReading | null {
    return this.lastReading;
  }

  /** Checks handed to the runner and not reported yet (at most one per owned job). */
  pendingChecks(): number {
    return this.pending.size;
  }

  status(): EndpointStatus[] {
    return statusRows(
      this.order,
      this.jobs,
      {
        alertOf: (name) => this.alerts.get(name),
        controls: this.deps.controls,
        nextDueOf: (name) => this.scheduler.nextDueOf(name),
      },
      this.deps.clock.now(),
    );
  }

  /** true while this worker runs the endpoint */
  owns(name: string): boolean {
    return this.jobs.has(name);
  }

  /**
   * One extra check of an owned endpoint now (`watcher run-now`), through the same path as a
   * scheduled one (alerts, outputs); resolves with its result, or null when not owned or stopping.
   */
  runNow(name: string): Promise<CheckResult | null> {
    const job = this.jobs.get(name);
    if (!job || this.stopping) return Promise.resolve(null);
    let got: CheckResult | null = null;
    const at = this.deps.clock.now();
    const p = this.deps.runner.run([{ spec: job.endpoint, scheduledAt: at, everyMs: 0 }], (r) => {
      r.run_now = true;
      got = r;
      this.onResult(r);
    });
    const done = p.catch((err: unknown) => this.deps.logger.error({ err }, 'run-now check failed'));
    this.inflight.add(done);
    done.finally(() => this.inflight.delete(done));
    return done.then(() => got);
  }

  get size(): number {
    return this.jobs.size;
  }

  lagP99(): number | null {
    return this.lag.p99(this.deps.clock.monotonic());
  }

  /**
   * Stop handing on new checks. In-flight checks go on and their results are still delivered;
   * the owned set is frozen so that a release by the coordinator does not drop those results.
   */
  stopScheduling(): void {
    this.stopping = true;
    this.scheduler.stop();
    if (this.tickTimer) this.deps.clock.clearTimeout(this.tickTimer);
    this.tickTimer = null;
    this.remoteParents.stop();
  }

  /** Wait (bounded) for in-flight checks so their results are delivered, then close the pool. */
  async drain(graceMs: number): Promise<void> {
    this.stopScheduling();
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([Promise.allSettled([...this.inflight]), deadline]);
    await this.deps.runner.close(Math.max(0, graceMs / 4));
  }

  async stop(graceMs: number): Promise<void> {
    this.stopScheduling();
    await this.drain(graceMs);
  }
}
