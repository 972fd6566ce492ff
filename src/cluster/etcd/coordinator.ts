/**
 * The etcd Coordinator: one worker's view of who owns which jobset (docs/CLUSTER.md).
 *
 * Layering (like etcd's Go concurrency package): Session (lease + own deadline) → registration →
 * Mirror (list + watch) → ownership by CAS claims whose revision is the fencing token → admin role.
 * Decisions are level-triggered: after every batch of watch events `react()` compares what this
 * worker holds with what the mirror says and acts. Every write that concerns a jobset compares the
 * owner key's revision (or the admin key's create revision), so a stale view can waste an attempt
 * but never produce two owners in etcd.
 */
import { EventEmitter } from 'node:events';
import type { ConfigSnapshot, RawEndpoint } from '../../config/types.js';
import type { Metrics } from '../../metrics.js';
import type { AlertState } from '../../model/alert.js';
import { type Clock, systemClock, type TimerHandle } from '../../model/clock.js';
import type { Endpoint } from '../../model/endpoint.js';
import type { Logger } from '../../model/logger.js';
import type { ClusterStatus, Coordinator, EtcdWriteState, HealthIdentity, OwnedJob } from '../coordinator.js';
import { AdminDuties, type AdminTuning, type ScalingEvent } from './admin.js';
import { AlertStateStore } from './alert-states.js';
import { BackupTimers, claimTxn } from './claims.js';
import { cmp, connectEtcd, type EtcdRpc, op, withTimeout } from './client.js';
import { EtcdConfirmer, type EtcdConfirmerDeps } from './confirm.js';
import { ClusterError, ClusterErrorCode, describeError, isPermanentClusterError } from './errors.js';
import { handoverTxn, releaseForDead, releaseTxns } from './handover.js';
import { Keys, prefixEnd } from './keys.js';
import { Mirror, type MirrorChange } from './mirror.js';
import { AvoidList } from './move-away.js';
import {
  type CatchUp,
  catchUpFor,
  handoffTime,
  loadOf,
  type Ownership,
  otherCandidates,
} from './ownership.js';
import { stableJson } from './packing.js';
import { type PeerDeath, PeerWatch, type PeerWatchTuning } from './peer-watch.js';
import { adminRank, type Candidate, hasRoom, planClaims, workersNeeded } from './plan.js';
import { registerWorker, workerRecord } from './registration.js';
import { Session } from './session.js';
import { ShedController, type ShedTuning } from './shedding.js';
import { statusFromMirror } from './tools.js';
import { encode } from './values.js';
import { RangeWatch } from './watch.js';

export { quantizeLag } from './registration.js';

export type ClusterMetrics = Pick<
  Metrics,
  | 'etcdUp'
  | 'isAdmin'
  | 'jobsOwned'
  | 'jobsetsOwned'
  | 'jobsWaiting'
  | 'spareCapacity'
  | 'workersNeeded'
  | 'claimsTotal'
> &
  Partial<Pick<Metrics, 'etcdWriteErrors' | 'peerRevocations'>>;

export interface CoordinatorTuning extends AdminTuning, ShedTuning {
  /** per-attempt deadline of unary etcd calls */
  callTimeoutMs: number;
  /** bound of the connection check (wrong password, TLS) */
  connectTimeoutMs: number;
  /** delay per rank for backup claimers of a free jobset */
  claimStepMs: number;
  claimJitterMs: number;
  /** after start, wait this long before claiming so that workers starting together see each other */
  joinGraceMs: number;
  /** delay per rank for admin contention */
  adminStepMs: number;
  /** most frequent update of this worker's workers/<id> value */
  publishIntervalMs: number;
  /** cap of the reconnect backoff */
  maxBackoffMs: number;
  /** bound of stop() */
  stopTimeoutMs: number;
}

export const DEFAULT_TUNING: CoordinatorTuning = {
  callTimeoutMs: 1500,
  connectTimeoutMs: 5000,
  claimStepMs: 250,
  claimJitterMs: 100,
  joinGraceMs: 300,
  adminStepMs: 300,
  publishIntervalMs: 2000,
  maxBackoffMs: 5000,
  stopTimeoutMs: 3000,
  shedBehindFraction: 0.05,
  shedWindowMs: 5000,
  recoverWindowMs: 30_000,
  shedHeadroom: 0.7,
  rateCapHoldMs: 600_000,
  reconcileDebounceMs: 100,
  rebalanceIntervalMs: 1000,
  maxMovesPerRound: null,
  moveCooldownMs: 30_000,
  scalingLimitAfterMs: 30_000,
  rebalance: true,
};

export interface EtcdCoordinatorOptions {
  endpoints: string[];
  tls?: { ca?: Buffer | undefined; cert?: Buffer | undefined; key?: Buffer | undefined } | undefined;
  auth?: { username: string; password: string } | undefined;
  cluster: string;
  workerId: string;
  /** status server host:port */
  address: string;
  version: string;
  leaseTtlSec: number;
  capacity: number | null;
  onPartition: 'continue' | 'pause';
  /** RawEndpoint from etcd → Endpoint with this worker's env; null (and logged) when invalid here */
  normalize: (raw: RawEndpoint) => Endpoint | null;
  /** this worker's own folder, reconciled into etcd while it is admin */
  desired?: () => ConfigSnapshot | null;
  metrics: ClusterMetrics;
  logger: Logger;
  clock?: Clock;
  tuning?: Partial<CoordinatorTuning>;
  /** peer-observed death (`successors: 0` turns it off) */
  peerWatch?: Partial<PeerWatchTuning>;
}

/** What an autoscaler acts on (docs/CLUSTER.md "Signals for an autoscaler"). */
export interface ScalingSignals {
  jobsWaiting: number;
  spareCapacity: number;
  workersNeeded: number;
}

export interface CoordinatorEvents {
  /** this worker became (true) or stopped being (false) the admin */
  admin: [isAdmin: boolean];
  /** jobsets gained or lost, with why */
  ownership: [change: { acquired: string[]; lost: string[]; reason: string }];
  /** etcd connectivity of this worker */
  partition: [state: { state: 'unreachable' | 'expired' | 'recovered'; reason?: string }];
  /** the admin's waiting-queue alarm ("scaling limit hit" / resolved) */
  scaling: [e: ScalingEvent];
  /** the autoscaling signals changed (the admin sends them to CloudWatch) */
  signals: [s: ScalingSignals];
  /** a problem the operator must know (e.g. our --id taken by another process during a partition) */
  problem: [err: ClusterError];
  /** etcd refuses the admin's writes for a lasting reason (NOSPACE...) / accepts them again */
  writes: [e: EtcdWriteState];
  /** this worker saw a peer's process die, released its jobsets and revoked its lease */
  peerDeath: [e: { worker: string; lease: string; deadBy: number; jobsets: number }];
}

type Phase = 'new' | 'starting' | 'running' | 'recovering' | 'stopping' | 'stopped';

export class EtcdCoordinator implements Coordinator {
  readonly mode = 'etcd' as const;
  private readonly keys: Keys;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly tuning: CoordinatorTuning;
  private readonly me: string;
  private readonly startedAt: number;
  private readonly emitter = new EventEmitter();

  private phase: Phase = 'new';
  private rpc: EtcdRpc | null = null;
  private session: Session | null = null;
  private readonly mirror: Mirror;
  private watch: RangeWatch | null = null;
  private watchGen = 0;
  private resyncTimer: TimerHandle | null = null;
  private resyncAttempt = 0;
  private listed = false;
  private joinGraceUntil = 0;
  private joinTimer: TimerHandle | null = null;
  private reactQueued = false;

  private readonly owned = new Map<string, Ownership>();
  private readonly inflight = new Map<string, number>();
  /** revision of this worker's last write that gave a jobset away: older mirror records are ignored */
  private readonly gaveAwayAt = new Map<string, number>();
  private readonly backupTimers: BackupTimers;
  private suspendedSince: number | null = null;
  private recoveryHeld: Map<string, Ownership> | null = null;

  private adminToken: number | null = null;
  private adminTimer: TimerHandle | null = null;
  private adminDuties: AdminDuties | null = null;
  private contending = false;

  private readonly listeners: Array<(jobs: ReadonlyMap<string, OwnedJob>) => void> = [];
  private emitted: ReadonlyMap<string, OwnedJob> = new Map();
  private readonly jobInfo = new Map<string, CatchUp>();
  private readonly jobsetOfJob = new Map<string, string>();
  private readonly normCache = new Map<string, { json: string; ep: Endpoint | null }>();
  /** normalised jobs of each owned jobset, by the jobset value's revision */
  private readonly jobsetCache = new Map<
    string,
    { modRev: number; entries: Array<{ name: string; ep: Endpoint | null }> }
  >();

  private readonly alertStates: AlertStateStore;
  private readonly peerWatch: PeerWatch;
  private readonly avoided: AvoidList;

  private publishTimer: TimerHandle | null = null;
  private lastPublishAt = 0;
  private lastPublished = '';
  private lagP99Ms: number | null = null;
  /** set by the engine while local faults dominate its results: no claims (like an overloaded worker) */
  private locallyDegraded = false;
  private lastLocalShedAt = Number.NEGATIVE_INFINITY;
  /** set while etcd refuses the admin's writes (NOSPACE...) */
  private writeState: EtcdWriteState | null = null;
  private shed!: ShedController;
  private servedRate: number | null = null;
  private servedRateUntil = 0;
  private signals: ScalingSignals = { jobsWaiting: 0, spareCapacity: 0, workersNeeded: 0 };
  private lastNetFailureAt = 0;
  private lastNetOkAt = 0;
  private stopPromise: Promise<void> | null = null;
  private desiredOverride: ConfigSnapshot | null = null;
  /** latest slot the engine has handed on (see handoffTime) */
  private dispatchHorizon: (() => number) | null = null;

  constructor(private readonly opts: EtcdCoordinatorOptions) {
    this.keys = new Keys(opts.cluster);
    Keys.checkWorkerId(opts.workerId);
    if (!Number.isFinite(opts.leaseTtlSec) || opts.leaseTtlSec < 2) {
      throw new ClusterError(
        ClusterErrorCode.CONFIG,
        `lease TTL must be at least 2 seconds (got ${opts.leaseTtlSec})`,
      );
    }
    if (opts.capacity !== null && (!Number.isInteger(opts.capacity) || opts.capacity < 0)) {
      throw new ClusterError(
        ClusterErrorCode.CONFIG,
        `capacity must be a non-negative integer (got ${opts.capacity})`,
      );
    }
    this.me = opts.workerId;
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger;
    this.tuning = { ...DEFAULT_TUNING, ...opts.tuning };
    this.shed = new ShedController(this.tuning);
    this.startedAt = this.clock.now();
    this.mirror = new Mirror(this.keys, this.clock, this.log);
    this.backupTimers = new BackupTimers(this.clock, this.tuning);
    this.avoided = new AvoidList(this.clock);
    this.peerWatch = new PeerWatch({
      self: this.me,
      onDeath: (d) => void this.onPeerDeath(d),
      clock: this.clock,
      logger: this.log,
      tuning: opts.peerWatch,
    });
    this.alertStates = new AlertStateStore({
      rpc: () => this.rpc,
      keys: this.keys,
      clock: this.clock,
      log: this.log,
      running: () => this.phase === 'running',
      jobsetOf: (name) => this.jobsetOfJob.get(name),
      ownerToken: (jsid) => this.owned.get(jsid)?.token,
      jobsetHasJob: (jsid, name) => !!this.mirror.jobsets.get(jsid)?.value.jobs[name],
      backoffMs: (attempt) => this.backoffMs(attempt),
      sleep: (ms) => this.sleep(ms),
    });
  }

  // ------------------------------------------------------------------ public API

  on<E extends keyof CoordinatorEvents>(event: E, fn: (...args: CoordinatorEvents[E]) => void): this {
    this.emitter.on(event, fn as (...args: unknown[]) => void);
    return this;
  }

  off<E extends keyof CoordinatorEvents>(event: E, fn: (...args: CoordinatorEvents[E]) => void): this {
    this.emitter.off(event, fn as (...args: unknown[]) => void);
    return this;
  }

  async start(): Promise<void> {
    if (this.phase !== 'new') throw new ClusterError(ClusterErrorCode.CONFIG, 'coordinator already started');
    this.phase = 'starting';
    for (let attempt = 0; ; attempt++) {
      try {
        if (!this.rpc) {
          this.rpc = await connectEtcd(
            {
              endpoints: this.opts.endpoints,
              tls: this.opts.tls,
              auth: this.opts.auth,
              callTimeoutMs: this.tuning.callTimeoutMs,
            },
            this.keys.admin,
            this.tuning.connectTimeoutMs,
          );
        }
        await this.establish();
        break;
      } catch (err) {
        if (this.phase !== 'starting')
          throw new ClusterError(ClusterErrorCode.STOPPED, 'coordinator stopped while starting');
        const e = err instanceof ClusterError ? err : null;
        if (isPermanentClusterError(e)) {
          const granted = this.session;
          this.session = null;
          if (granted && this.rpc)
            await withTimeout(this.rpc.leaseRevoke(granted.leaseId), 1000, 'revoke').catch(() => undefined);
          this.rpc?.close();
          this.rpc = null;
          this.phase = 'stopped';
          throw e;
        }
        this.log.warn({ err: describeError(err), attempt }, 'cannot reach etcd yet; retrying');
        this.opts.metrics.etcdUp.set(0);
        await this.sleep(this.backoffMs(attempt));
        if ((this.phase as Phase) !== 'starting') {
          throw new ClusterError(ClusterErrorCode.STOPPED, 'coordinator stopped while starting');
        }
      }
    }
    this.phase = 'running';
    this.joinGraceUntil = this.clock.now() + this.tuning.joinGraceMs;
    this.opts.metrics.etcdUp.set(1);
    // a start slower than the lease (overloaded host): recover instead of running on a dead lease
    if (this.session && !this.session.valid()) this.enterRecovery(this.session, 'deadline');
    this.log.info(
      { worker: this.me, lease: this.session?.leaseId, cluster: this.opts.cluster, rev: this.mirror.rev },
      'joined the cluster',
    );
    this.scheduleReact();
  }

  onOwnedChange(listener: (jobs: ReadonlyMap<string, OwnedJob>) => void): void {
    this.listeners.push(listener);
    if (this.emitted.size > 0) listener(this.emitted);
  }

  /** The engine tells how to read the latest slot it has handed on (exact handoff times). */
  setDispatchHorizon(horizon: () => number): void {
    this.dispatchHorizon = horizon;
  }

  /** The app calls this with every new config snapshot (used while this worker is admin). */
  setDesired(snapshot: ConfigSnapshot): void {
    this.desiredOverride = snapshot;
    this.adminDuties?.onDesired();
  }

  ready(): boolean {
    return this.phase === 'running' && this.listed && !!this.session?.valid();
  }

  /** True while this worker's lease is provably held (own deadline not passed). */
  leaseValid(): boolean {
    return this.phase === 'running' && !!this.session?.valid();
  }

  /**
   * The engine asks this before dispatching each batch. False once the own lease deadline has
   * passed (the check runs synchronously, so after SIGSTOP it is the first thing to notice),
   * except with `--on-partition continue` while etcd is provably unreachable.
   */
  mayRun(): boolean {
    if (this.phase === 'running') {
      if (this.session?.valid()) return true;
      // found passed before our own timer fired (e.g. just after SIGCONT): recover first
      const s = this.session;
      setImmediate(() => s?.checkExpired());
      return this.opts.onPartition === 'continue' && this.partitionEvidence();
    }
    if (this.phase === 'recovering') return this.opts.onPartition === 'continue' && this.partitionEvidence();
    return false;
  }

  isAdmin(): boolean {
    return this.adminToken !== null;
  }

  loadAlertStates(names: string[]): Promise<Map<string, AlertState>> {
    return this.alertStates.load(names);
  }

  saveAlertState(state: AlertState): void {
    this.alertStates.save(state);
  }

  /**
   * Per-job lag from the engine, once a second. The decisions live in ShedController
   * (shedding.ts): overloaded for a window → stop claiming and release the most expensive
   * jobsets down to the estimated serviceable rate; claim again only after a recovery window
   * without any job behind, and never above the rate kept (rate cap, for a hold time).
   */
  setLocallyDegraded(degraded: boolean): void {
    if (this.locallyDegraded === degraded) return;
    this.locallyDegraded = degraded;
    this.lastPublishAt = 0;
    this.schedulePublish();
    this.log.warn(
      { degraded },
      degraded ? 'local faults dominate: not claiming' : 'local faults gone: claiming again',
    );
    if (!degraded) this.scheduleReact();
  }

  reportLag(stats: ReadonlyMap<string, { lagMs: number; intervalMs: number }>, completed?: number): void {
    const lags = [...stats.values()].map((s) => s.lagMs).sort((a, b) => a - b);
    this.lagP99Ms =
      lags.length === 0 ? null : (lags[Math.min(lags.length - 1, Math.floor(lags.length * 0.99))] ?? null);
    this.schedulePublish();
    if (this.phase !== 'running') return;
    const wasShedding = this.shed.shedding;
    // overload windows and the rate cap's hold run on the monotonic clock (a wall step moves neither)
    const now = this.clock.monotonic();
    const mine = this.myLoad();
    const step = this.shed.update(stats, mine.rate, now, completed);
    this.shedForLocalFaults(mine.rate, now);
    this.noteServedRate(step.reading.overloaded ? step.reading.servedRate : null, now);
    if (step.changed) {
      if (this.shed.shedding && !wasShedding) {
        this.clearBackupTimers();
        this.log.warn(
          { behind: step.behind, jobs: stats.size, lagP99Ms: this.lagP99Ms, slope: step.slope },
          'falling behind: shedding work, not claiming',
        );
      } else if (!this.shed.shedding && wasShedding) {
        this.log.info({ rateCap: this.shed.rateCap }, 'lag recovered: claiming again (up to the rate cap)');
      } else if (this.shed.rateCap === null) {
        this.log.info({}, 'rate cap lifted');
      }
      this.lastPublishAt = 0;
      this.schedulePublish();
      this.scheduleReact();
    }
    if (step.targetRate !== null) void this.shedDownTo(step.targetRate, mine.rate, step.slope);
  }

  /**
   * While local faults (EMFILE, a dying thread...) are most of this worker's results, its checks
   * are not worth much where they are: every shed window it releases half of what it owns to
   * workers with room, as an overloaded worker does (and publishes `shedding`, so nothing is
   * moved to it meanwhile).
   */
  private shedForLocalFaults(ownRate: number, now: number): void {
    if (!this.locallyDegraded || this.owned.size === 0) return;
    if (now - this.lastLocalShedAt < this.tuning.shedWindowMs) return;
    this.lastLocalShedAt = now;
    void this.shedDownTo(ownRate / 2, ownRate, null);
  }

  /** When the current overload episode began, as wall time (the admin compares it with its own clock). */
  private overloadedSinceWall(): number | null {
    const since = this.shed.shedding ? this.shed.last?.since : null;
    if (since === null || since === undefined) return null;
    return Math.round(this.clock.now() - (this.clock.monotonic() - since));
  }

  /**
   * The serviceable rate published in the worker record: measured while overloaded (2 significant
   * digits, so that a saturated worker does not rewrite its record for noise), kept for the rate
   * cap's hold time after the episode so that `watcher_cluster_workers_needed` stays informed.
   */
  private noteServedRate(rate: number | null, now: number): void {
    if (rate !== null) {
      this.servedRate = Number(rate.toPrecision(2));
      this.servedRateUntil = now + this.tuning.rateCapHoldMs;
    } else if (this.servedRate !== null && now >= this.servedRateUntil) {
      this.servedRate = null;
    }
  }

  /**
   * Releases the most expensive owned jobsets into the waiting queue until the owned rate is at
   * most `target` (at least one), only those another live worker has room for.
   */
  private async shedDownTo(target: number, ownRate: number, slope: number | null): Promise<void> {
    const others = otherCandidates(this.mirror, this.me);
    const byCost = [...this.owned.keys()]
      .filter((id) => !this.inflight.has(id))
      .map((id) => this.mirror.jobsets.get(id))
      .filter((j): j is NonNullable<typeof j> => !!j)
      .sort((a, b) => b.value.rate - a.value.rate || b.count - a.count || (a.id < b.id ? -1 : 1));
    const picks: typeof byCost = [];
    let rate = ownRate;
    for (const js of byCost) {
      if (rate <= target + 1e-9 && picks.length > 0) break;
      picks.push(js);
      rate -= js.value.rate;
    }
    // Only what another worker can take (water-filled like the claim plan), else keep it.
    const plan = planClaims(
      picks.map((j) => ({ id: j.id, jobs: j.count, rate: j.value.rate })),
      others,
    );
    const release = new Map<string, Ownership>();
    let shedRate = 0;
    for (const js of picks) {
      const o = this.owned.get(js.id);
      if (!o || (plan.get(js.id)?.length ?? 0) === 0) continue;
      release.set(js.id, o);
      shedRate += js.value.rate;
    }
    if (release.size === 0) {
      this.log.warn({ target }, 'falling behind but no other worker has room: keeping the work');
      return;
    }
    for (const id of release.keys()) this.inflight.set(id, this.clock.now());
    try {
      await this.releaseJobsets(release, true);
      const kept = Math.max(0, ownRate - shedRate);
      this.shed.shed(kept, this.clock.monotonic());
      this.log.info(
        {
          jobsets: [...release.keys()],
          shedRate: Math.round(shedRate * 1000) / 1000,
          keptRate: Math.round(kept * 1000) / 1000,
          target: Math.round(target * 1000) / 1000,
          slope,
        },
        'shed jobsets into the waiting queue',
      );
      this.emit('ownership', { acquired: [], lost: [...release.keys()], reason: 'shed (falling behind)' });
      this.lastPublishAt = 0;
      this.schedulePublish();
    } finally {
      for (const id of release.keys()) this.inflight.delete(id);
      this.scheduleReact();
    }
  }

  /** `confirm: 1`: the second-opinion protocol over this coordinator's etcd connection (confirm.ts). */
  createConfirmer(run: EtcdConfirmerDeps['run']): EtcdConfirmer {
    return new EtcdConfirmer({
      rpc: () => this.rpc,
      prefix: this.keys.prefix,
      me: this.me,
      clock: this.clock,
      log: this.log,
      liveWorkers: () => [...this.mirror.workers.keys()],
      workerKey: (id) => this.keys.worker(id),
      resolve: (name) => {
        for (const js of this.mirror.jobsets.values()) {
          const raw = js.value.jobs[name];
          if (raw) return this.opts.normalize(raw);
        }
        return null;
      },
      running: () => this.phase === 'running' && !!this.session?.valid(),
      run,
    });
  }

  /**
   * `confirm: 1`: this worker keeps failing checks of `name` that others pass. Releases its jobset
   * (if another worker has room) and does not claim it back for a while (move-away.ts).
   */
  async moveAway(name: string): Promise<string | null> {
    const jsid = this.jobsetOfJob.get(name);
    const o = jsid ? this.owned.get(jsid) : undefined;
    const js = jsid ? this.mirror.jobsets.get(jsid) : undefined;
    if (!jsid || !o || !js || this.inflight.has(jsid) || this.phase !== 'running') return null;
    const plan = planClaims(
      [{ id: jsid, jobs: js.count, rate: js.value.rate }],
      otherCandidates(this.mirror, this.me),
    );
    if ((plan.get(jsid)?.length ?? 0) === 0) return null;
    this.avoided.add(jsid);
    this.inflight.set(jsid, this.clock.now());
    try {
      await this.releaseJobsets(new Map([[jsid, o]]), true);
      this.emit('ownership', { acquired: [], lost: [jsid], reason: `moved away (cannot reach ${name})` });
      return jsid;
    } finally {
      this.inflight.delete(jsid);
      this.scheduleReact();
    }
  }

  status(): ClusterStatus {
    const up = this.phase === 'running' && !!this.session?.valid() && !this.session.unreachable();
    const st = statusFromMirror(this.mirror, this.me, up);
    return this.writeState ? { ...st, etcdWrites: this.writeState } : st;
  }

  /** Jobset ids this worker holds now (diagnostics and tests). */
  ownedJobsets(): string[] {
    return [...this.owned.keys()].sort();
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

  async stop(): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    this.stopPromise = this.doStop();
    return this.stopPromise;
  }

  // ------------------------------------------------------------------ session, registration, listing

  private sessionOpts() {
    return { ttlSec: this.opts.leaseTtlSec, clock: this.clock, logger: this.log };
  }

  /** Grant a lease, register, list + watch, start the keepalive loop. */
  private async establish(): Promise<void> {
    const rpc = this.requireRpc();
    const session = await Session.grant(rpc, this.sessionOpts());
    this.session = session;
    await this.register(session);
    await this.resync();
    this.startSession(session);
  }

  private startSession(session: Session): void {
    session.start({
      onRenewed: () => {
        this.lastNetOkAt = this.clock.now();
        if (this.phase === 'running') this.opts.metrics.etcdUp.set(1);
      },
      onUnreachable: (err) => {
        this.lastNetFailureAt = this.clock.now();
        this.opts.metrics.etcdUp.set(0);
        this.log.warn({ err: describeError(err) }, 'etcd unreachable; lease still valid until its deadline');
        this.emit('partition', { state: 'unreachable', reason: describeError(err) });
      },
      onExpired: (reason) => this.enterRecovery(session, reason),
    });
  }

  private workerValue(leaseId: string): string {
    return workerRecord({
      id: this.me,
      address: this.opts.address,
      capacity: this.opts.capacity,
      version: this.opts.version,
      startedAt: this.startedAt,
      leaseId,
      jobs: this.jobsetOfJob.size,
      jobsets: this.owned.size,
      lagP99Ms: this.lagP99Ms,
      shedding: this.shed.shedding || this.locallyDegraded,
      rateCap: this.shed.rateCap,
      overloaded: this.shed.shedding,
      overloadedSince: this.overloadedSinceWall(),
      ownedRate: Math.round(this.myLoad().rate * 1000) / 1000,
      servedRate: this.servedRate,
      onPartition: this.opts.onPartition,
      leaseTtlSec: this.opts.leaseTtlSec,
    });
  }

  private async register(session: Session): Promise<void> {
    const rpc = this.requireRpc();
    await registerWorker(
      {
        rpc,
        keys: this.keys,
        me: this.me,
        cluster: this.opts.cluster,
        clock: this.clock,
        log: this.log,
        value: (leaseId) => this.workerValue(leaseId),
        sleep: (ms) => this.sleep(ms),
        stopping: () => this.phase === 'stopping' || this.phase === 'stopped',
      },
      session,
    );
  }

  /** Lists the coordination keys at one revision and (re)starts the watch right after it. */
  private async resync(): Promise<void> {
    const rpc = this.requireRpc();
    const gen = ++this.watchGen;
    this.watch?.close();
    this.watch = null;
    const [start, end] = this.keys.coordinationRange;
    const coord = await rpc.list(start, end);
    const workers = await rpc.list(
      this.keys.workersPrefix,
      prefixEnd(this.keys.workersPrefix),
      256,
      coord.rev,
    );
    if (gen !== this.watchGen) return;
    const change = this.mirror.replace([...coord.kvs, ...workers.kvs], coord.rev);
    this.listed = true;
    const watch = new RangeWatch(rpc, this.clock, {
      onEvents: (events, rev) => {
        if (gen !== this.watchGen) return;
        this.resyncAttempt = 0;
        this.onMirrorChange(this.mirror.apply(events, rev));
      },
      onBroken: (reason) => {
        if (gen !== this.watchGen) return;
        this.log.warn({ reason }, 'etcd watch broken; re-listing');
        this.scheduleResync();
      },
    });
    this.watch = watch;
    watch.start(this.keys.prefix, prefixEnd(this.keys.prefix), coord.rev + 1);
    this.onMirrorChange(change);
  }

  private scheduleResync(): void {
    if (this.resyncTimer || (this.phase !== 'running' && this.phase !== 'starting')) return;
    const wait = this.backoffMs(this.resyncAttempt++);
    this.resyncTimer = this.clock.setTimeout(() => {
      this.resyncTimer = null;
      if (this.phase !== 'running') return;
      this.resync().catch((err: unknown) => {
        this.log.warn({ err: describeError(err) }, 're-list failed; retrying');
        this.scheduleResync();
      });
    }, wait);
  }

  // ------------------------------------------------------------------ partitions and recovery

  private partitionEvidence(): boolean {
    return this.lastNetFailureAt > this.lastNetOkAt;
  }

  private enterRecovery(session: Session, reason: 'deadline' | 'lost'): void {
    if (this.phase !== 'running' || session !== this.session) return;
    this.phase = 'recovering';
    session.stop();
    this.watchGen++;
    this.watch?.close();
    this.watch = null;
    this.clearBackupTimers();
    this.dropAdmin('lease expired');
    this.opts.metrics.etcdUp.set(0);
    const held = new Map(this.owned);
    this.recoveryHeld = held;
    this.log.warn(
      { reason, jobsets: held.size, onPartition: this.opts.onPartition },
      reason === 'lost' ? 'lease lost (etcd no longer has it)' : 'lease deadline passed without renewal',
    );
    this.emit('partition', { state: 'expired', reason });
    if (this.opts.onPartition === 'pause') {
      this.suspendedSince = Math.min(this.clock.now(), session.deadlineAt());
      this.owned.clear();
      this.emitJobs();
    }
    void this.recover(session);
  }

  private async recover(old: Session): Promise<void> {
    const rpc = this.requireRpc();
    for (let attempt = 0; this.phase === 'recovering'; attempt++) {
      const sentAt = this.clock.monotonic(); // a lease deadline: monotonic (session.ts)
      try {
        let session: Session;
        const ttl = await rpc.keepAliveOnce(old.leaseId, Math.min(1500, old.ttlMs / 3));
        // The network evidence stands until recovery is done (lastNetOkAt below): a `continue`
        // worker keeps running what it holds while it re-lists, instead of skipping those slots.
        if (ttl > 0) {
          session = Session.resume(rpc, old.leaseId, ttl, sentAt, this.sessionOpts());
          this.log.info({}, 'etcd reachable again; the lease survived');
        } else {
          session = await Session.grant(rpc, this.sessionOpts());
          if ((this.phase as Phase) !== 'recovering') return;
          await this.register(session);
        }
        if ((this.phase as Phase) !== 'recovering') return;
        this.session = session;
        await this.resync();
        if ((this.phase as Phase) !== 'recovering') return;
        await this.reconcileAfterRecovery(session);
        if ((this.phase as Phase) !== 'recovering') return;
        this.phase = 'running';
        this.lastNetOkAt = this.clock.now();
        this.startSession(session);
        this.opts.metrics.etcdUp.set(1);
        this.joinGraceUntil = this.clock.now();
        this.log.info({ lease: session.leaseId, jobsets: this.owned.size }, 'recovered from partition');
        this.emit('partition', { state: 'recovered' });
        this.scheduleReact();
        return;
      } catch (err) {
        if (this.clock.monotonic() - sentAt <= this.tuning.callTimeoutMs * 3 + 1000)
          this.lastNetFailureAt = this.clock.now();
        if (err instanceof ClusterError && err.code === ClusterErrorCode.ID_IN_USE) {
          this.log.error({}, err.message);
          this.emit('problem', err);
          if (this.owned.size > 0) {
            this.owned.clear();
            this.emitJobs();
          }
        } else {
          this.log.debug({ err: describeError(err), attempt }, 'reconnect attempt failed');
        }
        // Never slower than the keepalive cadence: etcd extends every lease when it elects a leader
        // (e.g. restarted after an outage), and a retry that comes later than that extension
        // (TTL + election timeout) loses a lease that had survived, making others take over.
        await this.sleep(Math.min(this.backoffMs(attempt), Math.max(250, Math.floor(old.ttlMs / 3))));
      }
    }
  }

  /**
   * After a new listing: give up at once every jobset someone else owns now, keep what is still
   * ours under this lease, and claim the rest back by CAS only.
   */
  private async reconcileAfterRecovery(session: Session): Promise<void> {
    const held = this.recoveryHeld ?? new Map<string, Ownership>();
    this.recoveryHeld = null;
    const paused = this.opts.onPartition === 'pause';
    const dueSince = this.suspendedSince ?? this.clock.now();
    const claims: Array<{ jsid: string; observed: number }> = [];
    const lost: string[] = [];
    for (const [jsid, o] of held) {
      const js = this.mirror.jobsets.get(jsid);
      const rec = this.mirror.owners.get(jsid);
      if (!js) {
        lost.push(jsid);
      } else if (rec && rec.value.owner === this.me && rec.lease === session.leaseId) {
        if (paused) this.owned.set(jsid, { token: rec.modRev, takenOver: true, dueSince, announced: false });
        else o.token = rec.modRev;
      } else if (rec && rec.value.owner !== null && rec.value.owner !== this.me) {
        lost.push(jsid);
      } else {
        claims.push({ jsid, observed: rec?.modRev ?? 0 });
      }
    }
    for (const jsid of lost) this.owned.delete(jsid);
    if (lost.length > 0) {
      this.log.info({ jobsets: lost }, 'gave up jobsets now owned by others');
      this.emit('ownership', { acquired: [], lost, reason: 'owned by another worker after partition' });
    }
    this.emitJobs();
    const results = await Promise.all(
      claims.map(async ({ jsid, observed }) => {
        const token = await this.claimTxn(jsid, observed, session).catch(() => null);
        return { jsid, token };
      }),
    );
    const regained: string[] = [];
    const dropped: string[] = [];
    for (const { jsid, token } of results) {
      if (token !== null) {
        regained.push(jsid);
        const prev = this.owned.get(jsid);
        if (prev) prev.token = token;
        else this.owned.set(jsid, { token, takenOver: true, dueSince, announced: false });
      } else {
        dropped.push(jsid);
        this.owned.delete(jsid);
      }
    }
    if (regained.length || dropped.length) {
      this.emit('ownership', {
        acquired: paused ? regained : [],
        lost: dropped,
        reason: 'reclaim after partition',
      });
    }
    this.suspendedSince = null;
    this.emitJobs();
  }

  // ------------------------------------------------------------------ reacting to the mirror

  private onMirrorChange(change: MirrorChange): void {
    if (change.workers || change.resync) this.watchPeers();
    if (
      this.adminDuties &&
      (change.workers || change.owners.size > 0 || change.moves || change.jobsets.size > 0)
    ) {
      this.adminDuties.onMirror();
    }
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
        this.log.error({ err: describeError(err) }, 'coordinator reaction failed');
      }
    });
  }

  private react(): void {
    if (this.phase !== 'running' || !this.session) return;
    const lease = this.session.leaseId;
    const lost: string[] = [];
    const acquired: string[] = [];
    for (const [jsid, o] of this.owned) {
      if (this.inflight.has(jsid) || this.mirror.rev < o.token) continue;
      const rec = this.mirror.owners.get(jsid);
      if (this.mirror.jobsets.has(jsid) && rec && rec.value.owner === this.me && rec.lease === lease) {
        o.token = rec.modRev;
        continue;
      }
      this.owned.delete(jsid);
      lost.push(jsid);
    }
    for (const [jsid, rec] of this.mirror.owners) {
      if (
        rec.value.owner !== this.me ||
        rec.lease !== lease ||
        this.owned.has(jsid) ||
        this.inflight.has(jsid)
      )
        continue;
      if ((this.gaveAwayAt.get(jsid) ?? 0) >= rec.modRev || !this.mirror.jobsets.has(jsid)) continue;
      // handed over to us (rebalance), or our own claim whose answer was lost
      this.owned.set(jsid, {
        token: rec.modRev,
        takenOver: true,
        dueSince: rec.value.since ?? this.clock.now(),
        announced: false,
      });
      acquired.push(jsid);
    }
    if (lost.length) {
      this.log.info({ jobsets: lost }, 'jobsets no longer ours');
      this.emit('ownership', { acquired: [], lost, reason: 'owner key changed' });
    }
    if (acquired.length) this.emit('ownership', { acquired, lost: [], reason: 'handed over' });
    for (const [jsid, mv] of this.mirror.moves) {
      const o = this.owned.get(jsid);
      if (o && !this.inflight.has(jsid) && mv.value.to !== this.me && mv.value.ownerRev === o.token) {
        void this.handover(jsid, mv.value.to, mv.modRev);
      }
    }
    this.emitJobs();
    this.reactAdmin();
    this.evaluateFree();
    this.updateMetrics();
    this.schedulePublish();
  }

  // ------------------------------------------------------------------ peer-observed death

  private watchPeers(): void {
    if (this.opts.peerWatch?.successors === 0) return;
    this.peerWatch.update(
      [...this.mirror.workers].map(([id, w]) => ({
        id,
        leaseId: w.lease,
        startedAt: w.value.startedAt,
        address: w.value.address,
      })),
    );
  }

  /**
   * A watched peer's process is gone for certain: release its jobsets on its behalf (claimers
   * catch up from `deadBy`, after every slot it could have dispatched), then revoke its lease
   * (its admin key goes with it) instead of waiting for the TTL.
   */
  private async onPeerDeath(d: PeerDeath): Promise<void> {
    const rpc = this.rpc;
    const rec = this.mirror.workers.get(d.id);
    if (this.phase !== 'running' || !rpc || !this.session?.valid() || rec?.lease !== d.leaseId) return;
    const held = new Map<string, { token: number }>();
    for (const [jsid, o] of this.mirror.owners)
      if (o.value.owner === d.id && o.lease === d.leaseId) held.set(jsid, { token: o.modRev });
    const value = encode({ owner: null, releasedAt: d.deadBy, by: this.me });
    const released = await releaseForDead(rpc, this.keys, { id: d.id, lease: d.leaseId }, held, value);
    if (!released) {
      this.log.info(
        { peer: d.id, lease: d.leaseId },
        'peer gone, but its record already changed: nothing to do',
      );
      return;
    }
    await rpc.leaseRevoke(d.leaseId).catch((err: unknown) => {
      this.log.warn(
        { peer: d.id, err: describeError(err) },
        'revoking a dead peer lease failed (it expires)',
      );
    });
    this.opts.metrics.peerRevocations?.inc();
    this.log.warn(
      { peer: d.id, lease: d.leaseId, deadBy: d.deadBy, jobsets: held.size },
      'peer process died: released its jobsets and revoked its lease',
    );
    this.emit('peerDeath', { worker: d.id, lease: d.leaseId, deadBy: d.deadBy, jobsets: held.size });
  }

  // ------------------------------------------------------------------ claiming

  private myLoad(): { jobs: number; rate: number } {
    return loadOf(this.mirror, [...this.owned.keys(), ...this.inflight.keys()]);
  }

  private hasRoomFor(jobs: number, rate: number): boolean {
    const mine = this.myLoad();
    return hasRoom(
      { id: this.me, capacity: this.opts.capacity, ...mine, shedding: false, rateCap: this.shed.rateCap },
      jobs,
      rate,
    );
  }

  private evaluateFree(): void {
    if (this.phase !== 'running' || this.shed.shedding || this.locallyDegraded || !this.session?.valid())
      return;
    const now = this.clock.now();
    if (now < this.joinGraceUntil) {
      if (!this.joinTimer) {
        this.joinTimer = this.clock.setTimeout(() => {
          this.joinTimer = null;
          this.scheduleReact();
        }, this.joinGraceUntil - now);
      }
      return;
    }
    const free = this.mirror.freeJobsets().filter((j) => !this.inflight.has(j.id) && !this.avoided.has(j.id));
    const freeIds = new Set(free.map((j) => j.id));
    for (const id of this.backupTimers.ids()) if (!freeIds.has(id)) this.clearBackup(id);
    if (free.length === 0) return;
    const candidates: Candidate[] = otherCandidates(this.mirror, this.me);
    const mine = this.myLoad();
    candidates.push({
      id: this.me,
      capacity: this.opts.capacity,
      jobs: mine.jobs,
      rate: mine.rate,
      shedding: this.shed.shedding,
      rateCap: this.shed.rateCap,
    });
    const plan = planClaims(
      free.map((j) => ({ id: j.id, jobs: j.count, rate: j.value.rate })),
      candidates,
    );
    for (const js of free) {
      const rank = plan.get(js.id)?.indexOf(this.me) ?? -1;
      if (rank === 0) void this.claim(js.id);
      else if (rank > 0) this.ensureBackup(js.id, rank);
      else this.clearBackup(js.id);
    }
  }

  private ensureBackup(jsid: string, rank: number): void {
    this.backupTimers.ensure(jsid, rank, () => {
      if (this.phase === 'running' && this.mirror.isFree(jsid)) void this.claim(jsid);
    });
  }

  private clearBackup(jsid: string): void {
    this.backupTimers.clear(jsid);
  }

  private clearBackupTimers(): void {
    this.backupTimers.clearAll();
  }

  private catchUpFor(jsid: string): CatchUp {
    return catchUpFor(this.mirror, jsid, this.opts.leaseTtlSec, this.clock.now());
  }

  private async claimTxn(jsid: string, observed: number, session: Session): Promise<number | null> {
    const rpc = this.requireRpc();
    return claimTxn(rpc, this.keys, this.me, this.clock, jsid, observed, session.leaseId);
  }

  private async claim(jsid: string): Promise<void> {
    const session = this.session;
    const js = this.mirror.jobsets.get(jsid);
    const rec = this.mirror.owners.get(jsid);
    if (!session || this.phase !== 'running' || !js || this.inflight.has(jsid) || this.owned.has(jsid))
      return;
    if (this.avoided.has(jsid)) return;
    if (rec && rec.value.owner !== null) return;
    if (!this.hasRoomFor(js.count, js.value.rate)) return;
    this.clearBackup(jsid);
    const ctx = this.catchUpFor(jsid);
    this.inflight.set(jsid, this.clock.now());
    let outcome: 'won' | 'lost' | 'error' = 'error';
    try {
      const token = await this.claimTxn(jsid, rec?.modRev ?? 0, session);
      if (token === null) {
        outcome = 'lost';
      } else if (this.session === session && this.phase === 'running') {
        outcome = 'won';
        this.owned.set(jsid, { token, ...ctx, announced: false });
        this.log.debug({ jobset: jsid, token, takenOver: ctx.takenOver }, 'claimed jobset');
        this.emit('ownership', { acquired: [jsid], lost: [], reason: 'claimed' });
      }
    } catch (err) {
      this.log.debug({ jobset: jsid, err: describeError(err) }, 'claim failed');
    } finally {
      this.inflight.delete(jsid);
      this.opts.metrics.claimsTotal.inc({ outcome });
      this.scheduleReact();
    }
  }

  // ------------------------------------------------------------------ handing jobsets back

  /** Planned move: one fenced txn gives the jobset to `to` under ITS lease and deletes the move. */
  private async handover(jsid: string, to: string, moveRev: number): Promise<void> {
    const o = this.owned.get(jsid);
    const target = this.mirror.workers.get(to);
    const session = this.session;
    if (!o || !target || !session || this.inflight.has(jsid)) return;
    this.inflight.set(jsid, this.clock.now());
    const stateOps = this.alertStates.takePendingOps(new Set([jsid]));
    // Stop running it before the txn: the taker catches up any slot from `since` on.
    this.owned.delete(jsid);
    this.emitJobs();
    const since = this.handoffTime();
    const rpc = this.requireRpc();
    let given = false;
    try {
      const givenAt = await handoverTxn(rpc, this.keys, this.log, {
        jsid,
        to,
        targetLease: target.lease,
        token: o.token,
        moveRev,
        since,
        me: this.me,
        stateOps,
      });
      given = givenAt !== null;
      if (givenAt !== null) this.gaveAwayAt.set(jsid, givenAt);
    } finally {
      this.inflight.delete(jsid);
    }
    if (given) {
      this.log.info({ jobset: jsid, to }, 'handed jobset over (rebalance)');
      this.emit('ownership', { acquired: [], lost: [jsid], reason: `handed over to ${to}` });
    } else if (this.session === session && this.phase === 'running') {
      const rec = this.mirror.owners.get(jsid);
      if (!rec || rec.modRev === o.token) {
        // still ours: take it back and catch up what we skipped
        this.owned.set(jsid, { token: o.token, takenOver: true, dueSince: since, announced: false });
      }
    }
    this.scheduleReact();
  }

  /**
   * Releases jobsets (graceful stop, shedding): owner = null with the release time, no lease,
   * fenced by each owner token. With `running`, they leave the engine first (no slot runs twice).
   */
  private async releaseJobsets(held: Map<string, Ownership>, running = false): Promise<void> {
    const rpc = this.requireRpc();
    if (running) {
      for (const id of held.keys()) this.owned.delete(id);
      this.emitJobs();
    }
    const releasedAt = this.handoffTime();
    const value = encode({ owner: null, releasedAt, by: this.me });
    await releaseTxns(rpc, this.keys, held, value, (ids) => this.alertStates.takePendingOps(ids));
  }

  // ------------------------------------------------------------------ admin role

  private reactAdmin(): void {
    const a = this.mirror.admin;
    const session = this.session;
    if (!session) return;
    if (this.adminToken !== null) {
      if (this.mirror.rev >= this.adminToken && (!a || a.createRev !== this.adminToken))
        this.dropAdmin('admin key changed');
      return;
    }
    if (a) {
      if (this.adminTimer) this.clock.clearTimeout(this.adminTimer);
      this.adminTimer = null;
      if (a.value.id === this.me && a.lease === session.leaseId) this.becomeAdmin(a.createRev);
      return;
    }
    if (this.adminTimer || this.contending) return;
    const ids = new Set(this.mirror.workers.keys());
    ids.add(this.me);
    const rank = adminRank([...ids], this.me);
    const delay = rank === 0 ? 0 : rank * this.tuning.adminStepMs + Math.floor(Math.random() * 100);
    this.adminTimer = this.clock.setTimeout(() => {
      this.adminTimer = null;
      if (this.phase === 'running' && !this.mirror.admin && this.adminToken === null)
        void this.contendAdmin();
    }, delay);
  }

  private async contendAdmin(): Promise<void> {
    const session = this.session;
    if (!session || this.contending) return;
    this.contending = true;
    const rpc = this.requireRpc();
    try {
      const r = await rpc.txn(
        [cmp.create(this.keys.admin, 0), cmp.lease(this.keys.worker(this.me), session.leaseId)],
        [op.put(this.keys.admin, encode({ id: this.me, since: this.clock.now() }), session.leaseId)],
      );
      if (r.succeeded && this.session === session && this.phase === 'running') this.becomeAdmin(r.rev);
    } catch (err) {
      this.log.debug({ err: describeError(err) }, 'admin contention failed');
    } finally {
      this.contending = false;
      this.scheduleReact();
    }
  }

  private becomeAdmin(token: number): void {
    if (this.adminToken !== null) return;
    this.adminToken = token;
    this.opts.metrics.isAdmin.set(1);
    this.log.info({ token }, 'elected admin');
    this.adminDuties = new AdminDuties({
      rpc: this.requireRpc(),
      keys: this.keys,
      mirror: this.mirror,
      me: this.me,
      token,
      clock: this.clock,
      logger: this.log.child({ role: 'admin' }),
      desired: () => this.desiredOverride ?? this.opts.desired?.() ?? null,
      tuning: this.tuning,
      onFenced: () => {
        this.dropAdmin('fenced');
        this.scheduleReact();
      },
      onScaling: (e) => this.emit('scaling', e),
      onWriteError: (r) => this.opts.metrics.etcdWriteErrors?.inc({ cause: r.cause }),
      onWriteRefused: (r, error) => {
        this.writeState = { refused: true, cause: r.cause, remedy: r.remedy, since: this.clock.now(), error };
        this.emit('writes', this.writeState);
      },
      onWritesAccepted: () => {
        this.writeState = null;
        this.emit('writes', { refused: false, cause: null, remedy: null, since: null, error: null });
      },
    });
    this.adminDuties.start();
    this.emit('admin', true);
  }

  private dropAdmin(reason: string): void {
    if (this.adminTimer) this.clock.clearTimeout(this.adminTimer);
    this.adminTimer = null;
    if (this.adminToken === null) return;
    this.writeState = null;
    this.adminDuties?.stop();
    this.adminDuties = null;
    this.adminToken = null;
    this.opts.metrics.isAdmin.set(0);
    this.log.info({ reason }, 'no longer admin');
    this.emit('admin', false);
  }

  // ------------------------------------------------------------------ the engine's view

  private normalized(raw: RawEndpoint): Endpoint | null {
    const json = stableJson(raw);
    const hit = this.normCache.get(raw.name);
    if (hit && hit.json === json) return hit.ep;
    let ep: Endpoint | null = null;
    try {
      ep = this.opts.normalize(raw);
    } catch (err) {
      this.log.error({ endpoint: raw.name, err: describeError(err) }, 'cannot normalise job from etcd');
    }
    this.normCache.set(raw.name, { json, ep });
    return ep;
  }

  private emitJobs(): void {
    const now = this.clock.now();
    const next = new Map<string, OwnedJob>();
    this.jobsetOfJob.clear();
    for (const [jsid, o] of this.owned) {
      const js = this.mirror.jobsets.get(jsid);
      if (!js) continue;
      let cached = this.jobsetCache.get(jsid);
      if (!cached || cached.modRev !== js.modRev) {
        cached = {
          modRev: js.modRev,
          entries: Object.values(js.value.jobs).map((raw) => ({ name: raw.name, ep: this.normalized(raw) })),
        };
        this.jobsetCache.set(jsid, cached);
      }
      for (const { name, ep } of cached.entries) {
        this.jobsetOfJob.set(name, jsid);
        if (!ep) continue;
        let info = this.jobInfo.get(name);
        if (!info) {
          info = o.announced
            ? { takenOver: false, dueSince: now }
            : { takenOver: o.takenOver, dueSince: o.dueSince };
          this.jobInfo.set(name, info);
        }
        next.set(name, { endpoint: ep, takenOver: info.takenOver, dueSince: info.dueSince });
      }
      o.announced = true;
    }
    for (const name of [...this.jobInfo.keys()]) if (!next.has(name)) this.jobInfo.delete(name);
    for (const name of [...this.normCache.keys()])
      if (!this.jobsetOfJob.has(name)) this.normCache.delete(name);
    for (const id of [...this.jobsetCache.keys()]) if (!this.owned.has(id)) this.jobsetCache.delete(id);
    if (sameJobs(this.emitted, next)) return;
    this.emitted = next;
    this.updateMetrics();
    for (const l of this.listeners) {
      try {
        l(next);
      } catch (err) {
        this.log.error({ err: describeError(err) }, 'ownership listener failed');
      }
    }
  }

  private updateMetrics(): void {
    const m = this.opts.metrics;
    m.jobsOwned.set(this.emitted.size);
    m.jobsetsOwned.set(this.owned.size);
    const loads = this.mirror.loads();
    let spare = 0;
    let unbounded = false;
    for (const [id, w] of this.mirror.workers) {
      if (w.value.capacity === null) unbounded = true;
      else spare += Math.max(0, w.value.capacity - (loads.get(id)?.jobs ?? 0));
    }
    let demandRate = 0;
    let totalJobs = 0;
    for (const js of this.mirror.jobsets.values()) {
      demandRate += js.value.rate;
      totalJobs += js.count;
    }
    const prevSignals = this.signals;
    this.signals = {
      jobsWaiting: this.mirror.waitingJobs(),
      spareCapacity: unbounded ? -1 : spare,
      workersNeeded: workersNeeded({
        demandRate,
        totalJobs,
        workers: [...this.mirror.workers.values()].map((w) => ({
          capacity: w.value.capacity,
          servedRate: w.value.servedRate,
        })),
      }),
    };
    if (
      prevSignals.jobsWaiting !== this.signals.jobsWaiting ||
      prevSignals.spareCapacity !== this.signals.spareCapacity ||
      prevSignals.workersNeeded !== this.signals.workersNeeded
    )
      this.emit('signals', { ...this.signals });
    m.jobsWaiting.set(this.signals.jobsWaiting);
    m.spareCapacity.set(this.signals.spareCapacity);
    m.workersNeeded.set(this.signals.workersNeeded);
  }

  /** The three autoscaling signals as this worker's mirror shows them (the admin sends them to CloudWatch). */
  scalingSignals(): ScalingSignals {
    return { ...this.signals };
  }

  // ------------------------------------------------------------------ publishing our worker record

  private schedulePublish(): void {
    if (this.publishTimer || this.phase !== 'running') return;
    const wait = Math.max(0, this.lastPublishAt + this.tuning.publishIntervalMs - this.clock.now());
    this.publishTimer = this.clock.setTimeout(() => {
      this.publishTimer = null;
      void this.publish();
    }, wait);
  }

  private async publish(): Promise<void> {
    const session = this.session;
    if (!session || this.phase !== 'running') return;
    const value = this.workerValue(session.leaseId);
    if (value === this.lastPublished) return;
    this.lastPublishAt = this.clock.now();
    try {
      const key = this.keys.worker(this.me);
      const r = await this.requireRpc().txn(
        [cmp.lease(key, session.leaseId)],
        [op.put(key, value, session.leaseId)],
      );
      if (r.succeeded) this.lastPublished = value;
    } catch (err) {
      this.log.debug({ err: describeError(err) }, 'publishing worker record failed');
      this.schedulePublish();
    }
  }

  // ------------------------------------------------------------------ stop

  private async doStop(): Promise<void> {
    const prev = this.phase;
    this.phase = 'stopping';
    this.peerWatch.stop();
    for (const t of [this.resyncTimer, this.joinTimer, this.adminTimer, this.publishTimer]) {
      if (t) this.clock.clearTimeout(t);
    }
    this.resyncTimer = this.joinTimer = this.adminTimer = this.publishTimer = null;
    this.alertStates.cancelTimer();
    this.clearBackupTimers();
    this.adminDuties?.stop();
    const adminToken = this.adminToken;
    this.adminDuties = null;
    const session = this.session;
    session?.stop();
    const held = new Map(this.owned);
    // Stop running before handing back: the next owner catches up from the release time.
    this.owned.clear();
    this.emitJobs();
    const work = async (): Promise<void> => {
      const rpc = this.rpc;
      if (!rpc || !session || prev !== 'running') return;
      if (held.size > 0) await this.releaseJobsets(held);
      if (adminToken !== null) {
        await rpc
          .txn([cmp.create(this.keys.admin, adminToken)], [op.del(this.keys.admin)])
          .catch(() => undefined);
      }
      await rpc.leaseRevoke(session.leaseId);
    };
    let timer: TimerHandle | null = null;
    await Promise.race([
      work().catch((err: unknown) =>
        this.log.warn({ err: describeError(err) }, 'graceful release incomplete'),
      ),
      new Promise<void>((resolve) => {
        timer = this.clock.setTimeout(resolve, this.tuning.stopTimeoutMs);
      }),
    ]);
    if (timer) this.clock.clearTimeout(timer);
    this.watchGen++;
    this.watch?.close();
    this.watch = null;
    this.rpc?.close();
    this.adminToken = null;
    this.phase = 'stopped';
    const m = this.opts.metrics;
    m.etcdUp.set(0);
    m.isAdmin.set(0);
    m.jobsOwned.set(0);
    m.jobsetsOwned.set(0);
    this.log.info({ released: held.size }, 'left the cluster');
  }

  // ------------------------------------------------------------------ helpers

  /** See handoffTime() in ownership.ts. */
  private handoffTime(): number {
    return handoffTime(this.clock.now(), this.dispatchHorizon);
  }

  private requireRpc(): EtcdRpc {
    if (!this.rpc) throw new ClusterError(ClusterErrorCode.STOPPED, 'no etcd connection');
    return this.rpc;
  }

  private emit<E extends keyof CoordinatorEvents>(event: E, ...args: CoordinatorEvents[E]): void {
    for (const fn of this.emitter.listeners(event)) {
      try {
        (fn as (...a: CoordinatorEvents[E]) => void)(...args);
      } catch (err) {
        this.log.error({ event, err: describeError(err) }, 'coordinator event listener failed');
      }
    }
  }

  /** Exponential backoff with full jitter between 50% and 100%, from 250 ms up to maxBackoffMs. */
  private backoffMs(attempt: number): number {
    const base = Math.min(this.tuning.maxBackoffMs, 250 * 2 ** Math.min(attempt, 10));
    return Math.floor(base / 2 + Math.random() * (base / 2));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }
}

function sameJobs(a: ReadonlyMap<string, OwnedJob>, b: ReadonlyMap<string, OwnedJob>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, x] of a) {
    const y = b.get(name);
    if (!y || y.endpoint !== x.endpoint || y.takenOver !== x.takenOver || y.dueSince !== x.dueSince)
      return false;
  }
  return true;
}

export function createEtcdCoordinator(opts: EtcdCoordinatorOptions): EtcdCoordinator {
  return new EtcdCoordinator(opts);
}
