/**
 * The etcd Coordinator: one worker's view of who owns which jobset (docs/CLUSTER.md). It keeps
 * the phase machine (new → starting → running ⇄ recovering → stopping → stopped) and wires the
 * pieces (built by cluster-pieces.ts), which share a ClusterContext and send events up:
 *
 *   SessionKeeper (lease, recovery) · Registration (workers/<id>) · MirrorSync (list + watch)
 *   · OwnedJobsets (react; Claimer, GiveAway, PartitionRecovery) · AdminRole (AdminElection +
 *   AdminDuties) · JobView (what the engine runs) · LoadState (lag, shedding) · PeerDeaths
 *   · AlertStateStore · ClusterGauges (metrics, scaling signals).
 *
 * Decisions are level-triggered: after every batch of watch events `react()` compares what this
 * worker holds with what the mirror says and acts. Every write that concerns a jobset compares the
 * owner key's revision (or the admin key's create revision), so a stale view can waste an attempt
 * but never produce two owners in etcd.
 */
import type { ConfigSnapshot } from '../../config/types.js';
import type { AlertState } from '../../model/alert.js';
import type { ClusterStatus, Coordinator, HealthIdentity, JobLag, OwnedJob } from '../coordinator.js';
import { connectEtcd, type EtcdRpc } from './client.js';
import { buildPieces, type ClusterPieces } from './cluster-pieces.js';
import type { EtcdConfirmer, EtcdConfirmerDeps } from './confirm.js';
import { confirmerFor } from './confirm-wiring.js';
import { type ClusterContext, Emitter, type Phase } from './context.js';
import { ClusterError, ClusterErrorCode, describeError } from './errors.js';
import type { MirrorChange } from './mirror.js';
import type {
  CoordinatorEvents,
  CoordinatorTuning,
  EtcdCoordinatorOptions,
  ScalingSignals,
} from './options.js';
import type { Session } from './session.js';
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

  private readonly p: ClusterPieces;
  private reactQueued = false;
  private stopPromise: Promise<void> | null = null;

  constructor(private readonly opts: EtcdCoordinatorOptions) {
    this.p = buildPieces(opts);
    this.ctx = this.p.ctx;
    this.tuning = this.ctx.tuning;
    this.me = opts.workerId;
    this.startedAt = this.p.startedAt;
    this.events = new Emitter(this.ctx.log);
    this.wire();
  }

  /** Events of the pieces → the phase machine, the engine's view, metrics and the app's events. */
  private wire(): void {
    const m = this.opts.metrics;
    const { peers, keeper, sync, jobsets, registration, load, admin, gauges } = this.p;
    peers.events.on('peerDeath', (e) => {
      m.peerRevocations?.inc();
      this.events.emit('peerDeath', e);
    });
    keeper.events.on('retrying', () => m.etcdUp.set(0));
    keeper.events.on('renewed', () => {
      if (this.phase === 'running') m.etcdUp.set(1);
    });
    keeper.events.on('unreachable', (err) => {
      m.etcdUp.set(0);
      this.events.emit('partition', { state: 'unreachable', reason: describeError(err) });
    });
    keeper.events.on('lost', (session, reason) => this.enterRecovery(session, reason));
    keeper.events.on('problem', (err) => {
      this.events.emit('problem', err);
      jobsets.dropAll();
    });
    keeper.events.on('recovered', (session) => this.recovered(session));
    sync.events.on('change', (change) => this.onMirrorChange(change));
    jobsets.events.on('ownership', (change) => this.events.emit('ownership', change));
    jobsets.events.on('jobs', () => this.emitJobs());
    jobsets.events.on('react', () => this.scheduleReact());
    jobsets.events.on('publish', () => registration.soon());
    jobsets.events.on('claim', (outcome) => m.claimsTotal.inc({ outcome }));
    load.events.on('lag', () => registration.schedule());
    load.events.on('changed', () => {
      registration.soon();
      this.scheduleReact();
    });
    load.events.on('startedShedding', () => jobsets.clearBackupTimers());
    load.events.on('shed', (target, ownRate, slope) => void jobsets.shedDownTo(target, ownRate, slope));
    admin.events.on('admin', (isAdmin) => this.events.emit('admin', isAdmin));
    admin.events.on('scaling', (e) => this.events.emit('scaling', e));
    this.ctx.writes.events.on('counted', (cause) => m.etcdWriteErrors?.inc({ cause }));
    this.ctx.writes.events.on('writes', (e) => this.events.emit('writes', e));
    admin.events.on('react', () => this.scheduleReact());
    gauges.events.on('signals', (s) => this.events.emit('signals', s));
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
    return this.p.keeper.lastNetOkAt;
  }

  private get lastNetFailureAt(): number {
    return this.p.keeper.lastNetFailureAt;
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
    await this.p.keeper.join(
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
    this.p.jobsets.graceUntil(this.ctx.clock.now() + this.tuning.joinGraceMs);
    this.opts.metrics.etcdUp.set(1);
    // a start slower than the lease (overloaded host): recover instead of running on a dead lease
    if (this.session && !this.session.valid()) this.enterRecovery(this.session, 'deadline');
    this.ctx.log.info(
      { worker: this.me, lease: this.session?.leaseId, cluster: this.opts.cluster, rev: this.p.mirror.rev },
      'joined the cluster',
    );
    this.scheduleReact();
  }

  onOwnedChange(listener: (jobs: ReadonlyMap<string, OwnedJob>) => void): void {
    this.p.view.onChange(listener);
  }

  /** The engine tells how to read the latest slot it has handed on (exact handoff times). */
  setDispatchHorizon(horizon: () => number): void {
    this.p.jobsets.setDispatchHorizon(horizon);
  }

  /** The app calls this with every new config snapshot (used while this worker is admin). */
  setDesired(snapshot: ConfigSnapshot): void {
    this.p.admin.setDesired(snapshot);
  }

  ready(): boolean {
    return this.phase === 'running' && this.p.sync.listed && !!this.session?.valid();
  }

  /**
   * The engine asks this before dispatching each batch. False once the own lease deadline has
   * passed (the check runs synchronously, so after SIGSTOP it is the first thing to notice),
   * except with `--on-partition continue` while etcd is provably unreachable.
   */
  mayRun(): boolean {
    const continuing = () => this.opts.onPartition === 'continue' && this.p.keeper.partitionEvidence();
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
    return this.p.admin.isAdmin();
  }

  loadAlertStates(names: string[]): Promise<Map<string, AlertState>> {
    return this.p.alertStates.load(names);
  }

  saveAlertState(state: AlertState): void {
    this.p.alertStates.save(state);
  }

  /** Local faults dominate this worker's results: no claims, shed half per window (LoadState). */
  setLocallyDegraded(degraded: boolean): void {
    this.p.load.setLocallyDegraded(degraded);
  }

  /** Per-job lag from the engine, once a second (LoadState decides about shedding). */
  reportLag(stats: ReadonlyMap<string, JobLag>, completed?: number, lagP99Ms?: number | null): void {
    const mine = this.p.jobsets.myLoad();
    this.p.load.report(stats, completed, lagP99Ms ?? null, {
      rate: mine.rate,
      jobsets: this.p.jobsets.owned.size,
    });
  }

  status(): ClusterStatus {
    const up = this.phase === 'running' && !!this.session?.valid() && !this.session.unreachable();
    const st = statusFromMirror(this.p.mirror, this.me, up);
    const writes = this.ctx.writes.state;
    return writes ? { ...st, etcdWrites: writes } : st;
  }

  /** `confirm: 1`: the second-opinion protocol over this coordinator's etcd connection (confirm.ts). */
  createConfirmer(run: EtcdConfirmerDeps['run']): EtcdConfirmer {
    return confirmerFor(this.ctx, this.p.mirror, this.opts.normalize, run);
  }

  /** `confirm: 1`: moves the jobset of `name` to a worker that can reach it; its id, or null. */
  async moveAway(name: string): Promise<string | null> {
    const jsid = this.p.view.jobsetOf(name);
    return jsid && (await this.p.jobsets.moveAway(jsid, `cannot reach ${name}`)) ? jsid : null;
  }

  /** Jobset ids this worker holds now (diagnostics and tests). */
  ownedJobsets(): string[] {
    return [...this.p.jobsets.owned.keys()].sort();
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
    return this.p.gauges.current();
  }

  async stop(): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    this.stopPromise = this.doStop();
    return this.stopPromise;
  }

  // ------------------------------------------------------------------ session and recovery

  /** Grant a lease, register, list + watch, start the keepalive loop. */
  private async establish(): Promise<void> {
    const session = await this.p.keeper.grant();
    this.ctx.state.session = session;
    await this.p.registration.register(session);
    await this.p.sync.resync();
    this.p.keeper.start(session);
  }

  private enterRecovery(session: Session, reason: 'deadline' | 'lost'): void {
    if (this.phase !== 'running' || session !== this.session) return;
    this.phase = 'recovering';
    session.stop();
    this.p.sync.close();
    this.p.jobsets.clearBackupTimers();
    this.p.admin.drop('lease expired');
    this.opts.metrics.etcdUp.set(0);
    this.ctx.log.warn(
      { reason, jobsets: this.p.jobsets.owned.size, onPartition: this.opts.onPartition },
      reason === 'lost' ? 'lease lost (etcd no longer has it)' : 'lease deadline passed without renewal',
    );
    this.events.emit('partition', { state: 'expired', reason });
    this.p.jobsets.suspend(Math.min(this.ctx.clock.now(), session.deadlineAt()));
    void this.p.keeper.recover(
      session,
      (s) => this.p.registration.register(s),
      async (s) => {
        await this.p.sync.resync();
        if ((this.phase as Phase) !== 'recovering') return;
        await this.p.jobsets.reconcileAfterRecovery(s);
      },
    );
  }

  private recovered(session: Session): void {
    this.phase = 'running';
    this.p.keeper.start(session);
    this.opts.metrics.etcdUp.set(1);
    this.p.jobsets.graceUntil(this.ctx.clock.now());
    this.ctx.log.info(
      { lease: session.leaseId, jobsets: this.p.jobsets.owned.size },
      'recovered from partition',
    );
    this.events.emit('partition', { state: 'recovered' });
    this.scheduleReact();
  }

  // ------------------------------------------------------------------ reacting to the mirror

  private onMirrorChange(change: MirrorChange): void {
    if (change.workers || change.resync) this.p.peers.update();
    this.p.admin.onMirror(change);
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
    this.p.jobsets.react(this.session.leaseId);
    this.emitJobs();
    this.p.admin.observe();
    this.p.jobsets.evaluateFree();
    this.updateMetrics();
    this.p.registration.schedule();
  }

  // ------------------------------------------------------------------ the engine's view, metrics

  private emitJobs(): void {
    if (this.p.view.update(this.p.jobsets.owned)) this.updateMetrics();
  }

  private updateMetrics(): void {
    this.p.gauges.update(this.p.view.current().size, this.p.jobsets.owned.size);
  }

  // ------------------------------------------------------------------ stop

  private async doStop(): Promise<void> {
    const prev = this.phase;
    this.phase = 'stopping';
    this.p.peers.stop();
    this.p.sync.cancelTimer();
    this.p.jobsets.cancelTimers();
    this.p.registration.cancel();
    this.p.alertStates.cancelTimer();
    const adminToken = this.p.admin.stopDuties();
    const session = this.session;
    session?.stop();
    const held = new Map(this.p.jobsets.owned);
    this.p.jobsets.owned.clear();
    this.emitJobs();
    // Stop running before handing back: the next owner catches up from the release time.
    await this.ctx.bounded(this.tuning.stopTimeoutMs, 'graceful release incomplete', async () => {
      const rpc = this.rpc;
      if (!rpc || !session || prev !== 'running') return;
      if (held.size > 0) await this.p.jobsets.release(held);
      if (adminToken !== null) await this.p.admin.resign(adminToken);
      await rpc.leaseRevoke(session.leaseId);
    });
    this.p.sync.close();
    this.rpc?.close();
    this.p.admin.clear();
    this.phase = 'stopped';
    this.p.gauges.stopped();
    this.ctx.log.info({ released: held.size }, 'left the cluster');
  }
}

export function createEtcdCoordinator(opts: EtcdCoordinatorOptions): EtcdCoordinator {
  return new EtcdCoordinator(opts);
}
