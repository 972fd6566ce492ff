/**
 * The etcd Coordinator: one worker's view of who owns which jobset (docs/CLUSTER.md). It keeps
 * the phase machine (new → starting → running ⇄ recovering → stopping → stopped) and wires the
 * pieces, which share a ClusterContext and send events up:
 *
 *   SessionKeeper (lease, recovery) · Registration (workers/<id>) · MirrorSync (list + watch)
 *   · OwnedJobsets (react, claim, handover, release, reclaim) · AdminElection (+ AdminDuties)
 *   · JobView (what the engine runs) · LoadState (lag, shedding) · PeerWatch · AlertStateStore.
 *
 * Decisions are level-triggered: after every batch of watch events `react()` compares what this
 * worker holds with what the mirror says and acts. Every write that concerns a jobset compares the
 * owner key's revision (or the admin key's create revision), so a stale view can waste an attempt
 * but never produce two owners in etcd.
 */
import type { ConfigSnapshot } from '../../config/types.js';
import type { AlertState } from '../../model/alert.js';
import { type Clock, systemClock, type TimerHandle } from '../../model/clock.js';
import type { ClusterStatus, Coordinator, HealthIdentity, JobLag, OwnedJob } from '../coordinator.js';
import { AdminRole } from './admin-role.js';
import { AlertStateStore } from './alert-states.js';
import { connectEtcd, type EtcdRpc } from './client.js';
import { EtcdConfirmer, type EtcdConfirmerDeps } from './confirm.js';
import { ClusterContext, Emitter, type Phase } from './context.js';
import { ClusterError, ClusterErrorCode, describeError } from './errors.js';
import { JobView } from './job-view.js';
import { Keys } from './keys.js';
import { LoadState } from './load-state.js';
import { Mirror, type MirrorChange } from './mirror.js';
import { MirrorSync } from './mirror-sync.js';
import {
  type CoordinatorEvents,
  type CoordinatorTuning,
  checkOptions,
  checkTuning,
  type EtcdCoordinatorOptions,
  type ScalingSignals,
} from './options.js';
import { OwnedJobsets } from './owned-jobsets.js';
import { PeerDeaths } from './peer-release.js';
import { Registration, workerRecord } from './registration.js';
import type { Session } from './session.js';
import { SessionKeeper } from './session-keeper.js';
import { sameSignals, scalingSignals } from './signals.js';
import { statusFromMirror } from './tools.js';

/** the test helpers' import path */
export type { CoordinatorTuning, EtcdCoordinatorOptions } from './options.js';
export { quantizeLag } from './registration.js';

export class EtcdCoordinator implements Coordinator {
  readonly mode = 'etcd' as const;
  private readonly ctx: ClusterContext;
  private readonly tuning: CoordinatorTuning;
  private readonly me: string;
  private readonly startedAt: number;
  private readonly events: Emitter<CoordinatorEvents>;

  private readonly mirror: Mirror;
  private readonly keeper: SessionKeeper;
  private readonly registration: Registration;
  private readonly sync: MirrorSync;
  private readonly load: LoadState;
  private readonly jobsets: OwnedJobsets;
  private readonly view: JobView;
  private readonly admin: AdminRole;
  private readonly alertStates: AlertStateStore;
  private readonly peers: PeerDeaths;
  private signals: ScalingSignals = { jobsWaiting: 0, spareCapacity: 0, workersNeeded: 0 };
  private reactQueued = false;
  private stopPromise: Promise<void> | null = null;

  constructor(private readonly opts: EtcdCoordinatorOptions) {
    const keys = new Keys(opts.cluster);
    checkOptions(opts);
    this.me = opts.workerId;
    const clock: Clock = opts.clock ?? systemClock;
    this.tuning = checkTuning(opts.tuning);
    const ctx = new ClusterContext(keys, clock, opts.logger, this.me, this.tuning);
    this.ctx = ctx;
    this.events = new Emitter(ctx.log);
    this.startedAt = clock.now();
    this.mirror = new Mirror(keys, clock, ctx.log);
    this.keeper = new SessionKeeper(ctx, opts.leaseTtlSec);
    this.registration = new Registration(ctx, opts.cluster, (leaseId) => this.workerValue(leaseId));
    this.sync = new MirrorSync(ctx, this.mirror);
    this.load = new LoadState(ctx);
    this.view = new JobView(this.mirror, opts.normalize, ctx.log, () => clock.now());
    this.admin = new AdminRole(ctx, this.mirror, opts.metrics, opts.desired);
    this.peers = new PeerDeaths(ctx, this.mirror, opts.peerWatch);
    this.alertStates = new AlertStateStore(ctx, {
      jobsetOf: (name) => this.view.jobsetOf(name),
      ownerToken: (jsid) => this.jobsets.owned.get(jsid)?.token,
      jobsetHasJob: (jsid, name) => !!this.mirror.jobsets.get(jsid)?.value.jobs[name],
    });
    this.jobsets = new OwnedJobsets(ctx, this.mirror, this.load, this.alertStates, opts);
    this.wire();
  }

  /** Events of the pieces → the phase machine, the engine's view, metrics and the app's events. */
  private wire(): void {
    const m = this.opts.metrics;
    this.peers.events.on('peerDeath', (e) => {
      m.peerRevocations?.inc();
      this.events.emit('peerDeath', e);
    });
    this.keeper.events.on('retrying', () => m.etcdUp.set(0));
    this.keeper.events.on('renewed', () => {
      if (this.phase === 'running') m.etcdUp.set(1);
    });
    this.keeper.events.on('unreachable', (err) => {
      m.etcdUp.set(0);
      this.events.emit('partition', { state: 'unreachable', reason: describeError(err) });
    });
    this.keeper.events.on('lost', (session, reason) => this.enterRecovery(session, reason));
    this.keeper.events.on('problem', (err) => {
      this.events.emit('problem', err);
      this.jobsets.dropAll();
    });
    this.keeper.events.on('recovered', (session) => this.recovered(session));
    this.sync.events.on('change', (change) => this.onMirrorChange(change));
    this.jobsets.events.on('ownership', (change) => this.events.emit('ownership', change));
    this.jobsets.events.on('jobs', () => this.emitJobs());
    this.jobsets.events.on('react', () => this.scheduleReact());
    this.jobsets.events.on('publish', () => this.registration.soon());
    this.jobsets.events.on('claim', (outcome) => m.claimsTotal.inc({ outcome }));
    this.load.events.on('lag', () => this.registration.schedule());
    this.load.events.on('changed', () => {
      this.registration.soon();
      this.scheduleReact();
    });
    this.load.events.on('startedShedding', () => this.jobsets.clearBackupTimers());
    this.load.events.on(
      'shed',
      (target, ownRate, slope) => void this.jobsets.shedDownTo(target, ownRate, slope),
    );
    this.admin.events.on('admin', (isAdmin) => this.events.emit('admin', isAdmin));
    this.admin.events.on('scaling', (e) => this.events.emit('scaling', e));
    this.ctx.writes.events.on('counted', (cause) => m.etcdWriteErrors?.inc({ cause }));
    this.ctx.writes.events.on('writes', (e) => this.events.emit('writes', e));
    this.admin.events.on('react', () => this.scheduleReact());
  }

  // ------------------------------------------------------------------ state (also read by tests)

  private get phase(): Phase {
    return this.ctx.state.phase;
  }

  private set phase(p: Phase) {
    this.ctx.state.phase = p;
  }

  private get rpc(): EtcdRpc | null {
    return this.ctx.state.rpc;
  }

  private get session(): Session | null {
    return this.ctx.state.session;
  }

  private get lastNetOkAt(): number {
    return this.keeper.lastNetOkAt;
  }

  private get lastNetFailureAt(): number {
    return this.keeper.lastNetFailureAt;
  }

  // ------------------------------------------------------------------ public API

  on<E extends keyof CoordinatorEvents>(event: E, fn: (...args: CoordinatorEvents[E]) => void): this {
    this.events.on(event, fn);
    return this;
  }

  off<E extends keyof CoordinatorEvents>(event: E, fn: (...args: CoordinatorEvents[E]) => void): this {
    this.events.off(event, fn);
    return this;
  }

  async start(): Promise<void> {
    if (this.phase !== 'new') throw new ClusterError(ClusterErrorCode.CONFIG, 'coordinator already started');
    this.phase = 'starting';
    await this.keeper.join(
      () =>
        connectEtcd(
          {
            endpoints: this.opts.endpoints,
            tls: this.opts.tls,
            auth: this.opts.auth,
            callTimeoutMs: this.tuning.callTimeoutMs,
          },
          this.ctx.keys.admin,
          this.tuning.connectTimeoutMs,
        ),
      () => this.establish(),
    );
    this.phase = 'running';
    this.jobsets.graceUntil(this.ctx.clock.now() + this.tuning.joinGraceMs);
    this.opts.metrics.etcdUp.set(1);
    // a start slower than the lease (overloaded host): recover instead of running on a dead lease
    if (this.session && !this.session.valid()) this.enterRecovery(this.session, 'deadline');
    this.ctx.log.info(
      { worker: this.me, lease: this.session?.leaseId, cluster: this.opts.cluster, rev: this.mirror.rev },
      'joined the cluster',
    );
    this.scheduleReact();
  }

  onOwnedChange(listener: (jobs: ReadonlyMap<string, OwnedJob>) => void): void {
    this.view.onChange(listener);
  }

  /** The engine tells how to read the latest slot it has handed on (exact handoff times). */
  setDispatchHorizon(horizon: () => number): void {
    this.jobsets.setDispatchHorizon(horizon);
  }

  /** The app calls this with every new config snapshot (used while this worker is admin). */
  setDesired(snapshot: ConfigSnapshot): void {
    this.admin.setDesired(snapshot);
  }

  ready(): boolean {
    return this.phase === 'running' && this.sync.listed && !!this.session?.valid();
  }

  /**
   * The engine asks this before dispatching each batch. False once the own lease deadline has
   * passed (the check runs synchronously, so after SIGSTOP it is the first thing to notice),
   * except with `--on-partition continue` while etcd is provably unreachable.
   */
  mayRun(): boolean {
    const continuing = () => this.opts.onPartition === 'continue' && this.keeper.partitionEvidence();
    if (this.phase === 'running') {
      if (this.session?.valid()) return true;
      // found passed before our own timer fired (e.g. just after SIGCONT): recover first
      const s = this.session;
      setImmediate(() => s?.checkExpired());
      return continuing();
    }
    if (this.phase === 'recovering') return continuing();
    return false;
  }

  isAdmin(): boolean {
    return this.admin.isAdmin();
  }

  loadAlertStates(names: string[]): Promise<Map<string, AlertState>> {
    return this.alertStates.load(names);
  }

  saveAlertState(state: AlertState): void {
    this.alertStates.save(state);
  }

  /** Local faults dominate this worker's results: no claims, shed half per window (LoadState). */
  setLocallyDegraded(degraded: boolean): void {
    this.load.setLocallyDegraded(degraded);
  }

  /** Per-job lag from the engine, once a second (LoadState decides about shedding). */
  reportLag(stats: ReadonlyMap<string, JobLag>, completed?: number, lagP99Ms?: number | null): void {
    const mine = this.jobsets.myLoad();
    this.load.report(stats, completed, lagP99Ms ?? null, {
      rate: mine.rate,
      jobsets: this.jobsets.owned.size,
    });
  }

  status(): ClusterStatus {
    const up = this.phase === 'running' && !!this.session?.valid() && !this.session.unreachable();
    const st = statusFromMirror(this.mirror, this.me, up);
    const writes = this.ctx.writes.state;
    return writes ? { ...st, etcdWrites: writes } : st;
  }

  /** `confirm: 1`: the second-opinion protocol over this coordinator's etcd connection (confirm.ts). */
  createConfirmer(run: EtcdConfirmerDeps['run']): EtcdConfirmer {
    const { ctx, mirror } = this;
    return new EtcdConfirmer({
      rpc: () => ctx.state.rpc,
      prefix: ctx.keys.prefix,
      me: this.me,
      clock: ctx.clock,
      log: ctx.log,
      liveWorkers: () => [...mirror.workers.keys()],
      workerKey: (id) => ctx.keys.worker(id),
      resolve: (name) => {
        for (const js of mirror.jobsets.values())
          if (js.value.jobs[name]) return this.opts.normalize(js.value.jobs[name]);
        return null;
      },
      running: () => this.phase === 'running' && !!this.session?.valid(),
      run,
    });
  }

  /** `confirm: 1`: moves the jobset of `name` to a worker that can reach it; its id, or null. */
  async moveAway(name: string): Promise<string | null> {
    const jsid = this.view.jobsetOf(name);
    return jsid && (await this.jobsets.moveAway(jsid, `cannot reach ${name}`)) ? jsid : null;
  }

  /** Jobset ids this worker holds now (diagnostics and tests). */
  ownedJobsets(): string[] {
    return [...this.jobsets.owned.keys()].sort();
  }

  /** What `/healthz` answers (peers compare it with `workers/<id>`); null without a lease. */
  identity(): HealthIdentity | null {
    const lease = this.session?.leaseId;
    return lease ? { id: this.me, started_at: this.startedAt, lease_id: lease } : null;
  }

  /** The lease this worker holds now, as a decimal string (diagnostics and tests). */
  leaseId(): string | null {
    return this.session?.leaseId ?? null;
  }

  /** The three autoscaling signals as this worker's mirror shows them (the admin sends them to CloudWatch). */
  scalingSignals(): ScalingSignals {
    return { ...this.signals };
  }

  async stop(): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    this.stopPromise = this.doStop();
    return this.stopPromise;
  }

  // ------------------------------------------------------------------ session and recovery

  /** Grant a lease, register, list + watch, start the keepalive loop. */
  private async establish(): Promise<void> {
    const session = await this.keeper.grant();
    this.ctx.state.session = session;
    await this.registration.register(session);
    await this.sync.resync();
    this.keeper.start(session);
  }

  private workerValue(leaseId: string): string {
    const load = this.load;
    return workerRecord({
      id: this.me,
      address: this.opts.address,
      capacity: this.opts.capacity,
      version: this.opts.version,
      startedAt: this.startedAt,
      leaseId,
      jobs: this.view.jobCount(),
      jobsets: this.jobsets.owned.size,
      lagP99Ms: load.lagP99Ms,
      shedding: load.shedding || load.locallyDegraded,
      rateCap: load.rateCap,
      overloaded: load.shedding,
      overloadedSince: load.overloadedSinceWall(),
      ownedRate: Math.round(this.jobsets.myLoad().rate * 1000) / 1000,
      servedRate: load.servedRate,
      onPartition: this.opts.onPartition,
      leaseTtlSec: this.opts.leaseTtlSec,
    });
  }

  private enterRecovery(session: Session, reason: 'deadline' | 'lost'): void {
    if (this.phase !== 'running' || session !== this.session) return;
    this.phase = 'recovering';
    session.stop();
    this.sync.close();
    this.jobsets.clearBackupTimers();
    this.admin.drop('lease expired');
    this.opts.metrics.etcdUp.set(0);
    this.ctx.log.warn(
      { reason, jobsets: this.jobsets.owned.size, onPartition: this.opts.onPartition },
      reason === 'lost' ? 'lease lost (etcd no longer has it)' : 'lease deadline passed without renewal',
    );
    this.events.emit('partition', { state: 'expired', reason });
    this.jobsets.suspend(Math.min(this.ctx.clock.now(), session.deadlineAt()));
    void this.keeper.recover(
      session,
      (s) => this.registration.register(s),
      async (s) => {
        await this.sync.resync();
        if ((this.phase as Phase) !== 'recovering') return;
        await this.jobsets.reconcileAfterRecovery(s);
      },
    );
  }

  private recovered(session: Session): void {
    this.phase = 'running';
    this.keeper.start(session);
    this.opts.metrics.etcdUp.set(1);
    this.jobsets.graceUntil(this.ctx.clock.now());
    this.ctx.log.info(
      { lease: session.leaseId, jobsets: this.jobsets.owned.size },
      'recovered from partition',
    );
    this.events.emit('partition', { state: 'recovered' });
    this.scheduleReact();
  }

  // ------------------------------------------------------------------ reacting to the mirror

  private onMirrorChange(change: MirrorChange): void {
    if (change.workers || change.resync) this.peers.update();
    this.admin.onMirror(change);
    this.scheduleReact();
  }

  private scheduleReact(): void {
    if (this.reactQueued) return;
    this.reactQueued = true;
    setImmediate(() => {
      this.reactQueued = false;
      try {
        this.react();
      } catch (err) {
        this.ctx.log.error({ err: describeError(err) }, 'coordinator reaction failed');
      }
    });
  }

  private react(): void {
    if (this.phase !== 'running' || !this.session) return;
    this.jobsets.react(this.session.leaseId);
    this.emitJobs();
    this.admin.observe();
    this.jobsets.evaluateFree();
    this.updateMetrics();
    this.registration.schedule();
  }

  // ------------------------------------------------------------------ the engine's view, metrics

  private emitJobs(): void {
    if (this.view.update(this.jobsets.owned)) this.updateMetrics();
  }

  private updateMetrics(): void {
    const m = this.opts.metrics;
    m.jobsOwned.set(this.view.current().size);
    m.jobsetsOwned.set(this.jobsets.owned.size);
    const prev = this.signals;
    this.signals = scalingSignals(this.mirror);
    if (!sameSignals(prev, this.signals)) this.events.emit('signals', { ...this.signals });
    m.jobsWaiting.set(this.signals.jobsWaiting);
    m.spareCapacity.set(this.signals.spareCapacity);
    m.workersNeeded.set(this.signals.workersNeeded);
  }

  // ------------------------------------------------------------------ stop

  private async doStop(): Promise<void> {
    const prev = this.phase;
    this.phase = 'stopping';
    this.peers.stop();
    this.sync.cancelTimer();
    this.jobsets.cancelTimers();
    this.registration.cancel();
    this.alertStates.cancelTimer();
    const adminToken = this.admin.stopDuties();
    const session = this.session;
    session?.stop();
    const held = new Map(this.jobsets.owned);
    // Stop running before handing back: the next owner catches up from the release time.
    this.jobsets.owned.clear();
    this.emitJobs();
    const work = async (): Promise<void> => {
      const rpc = this.rpc;
      if (!rpc || !session || prev !== 'running') return;
      if (held.size > 0) await this.jobsets.release(held);
      if (adminToken !== null) await this.admin.resign(adminToken);
      await rpc.leaseRevoke(session.leaseId);
    };
    let timer: TimerHandle | null = null;
    await Promise.race([
      work().catch((err: unknown) =>
        this.ctx.log.warn({ err: describeError(err) }, 'graceful release incomplete'),
      ),
      new Promise<void>((resolve) => {
        timer = this.ctx.clock.setTimeout(resolve, this.tuning.stopTimeoutMs);
      }),
    ]);
    if (timer) this.ctx.clock.clearTimeout(timer);
    this.sync.close();
    this.rpc?.close();
    this.admin.clear();
    this.phase = 'stopped';
    const m = this.opts.metrics;
    m.etcdUp.set(0);
    m.isAdmin.set(0);
    m.jobsOwned.set(0);
    m.jobsetsOwned.set(0);
    this.ctx.log.info({ released: held.size }, 'left the cluster');
  }
}

export function createEtcdCoordinator(opts: EtcdCoordinatorOptions): EtcdCoordinator {
  return new EtcdCoordinator(opts);
}
