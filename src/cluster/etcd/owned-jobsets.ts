/**
 * The jobsets this worker owns, and every ownership move it makes: the level-triggered reaction
 * to the mirror, claims of free jobsets (rank 0 at once, backups delayed), handovers the admin
 * asked for, releases (stop, shedding) and the reclaim after a partition. Every write is fenced
 * by the owner key's revision (the token), so a stale view can waste an attempt but never make
 * two owners. Changes go up as events; the coordinator turns `jobs` into the engine's view.
 */
import type { AlertStateStore } from './alert-states.js';
import { BackupTimers, claimTxn } from './claims.js';
import type { ClusterContext } from './context.js';
import { Emitter } from './context.js';
import { describeError } from './errors.js';
import { handoverTxn, releaseTxns } from './handover.js';
import type { LoadState } from './load-state.js';
import type { Mirror } from './mirror.js';
import { AvoidList } from './move-away.js';
import { catchUpFor, handoffTime, loadOf, type Ownership, otherCandidates } from './ownership.js';
import { type Candidate, hasRoom, planClaims } from './plan.js';
import type { Session } from './session.js';
import { pickShed } from './shedding.js';
import { encode } from './values.js';

export interface OwnershipChange {
  acquired: string[];
  lost: string[];
  reason: string;
}

export interface OwnedJobsetsEvents {
  /** jobsets gained or lost, with why */
  ownership: [change: OwnershipChange];
  /** the owned set changed: hand the engine its new jobs now (before any write that gives them away) */
  jobs: [];
  /** look at the mirror again */
  react: [];
  /** what this worker publishes changed (shed): publish its record now */
  publish: [];
  /** a claim attempt ended (watcher_cluster_claims_total) */
  claim: [outcome: 'won' | 'lost' | 'error'];
}

export interface OwnedJobsetsConfig {
  capacity: number | null;
  leaseTtlSec: number;
  onPartition: 'continue' | 'pause';
}

export class OwnedJobsets {
  readonly events: Emitter<OwnedJobsetsEvents>;
  readonly owned = new Map<string, Ownership>();
  private readonly inflight = new Map<string, number>();
  /** revision of this worker's last write that gave a jobset away: older mirror records are ignored */
  private readonly gaveAwayAt = new Map<string, number>();
  private readonly backupTimers: BackupTimers;
  private joinGraceUntil = 0;
  private joinTimer: ReturnType<ClusterContext['clock']['setTimeout']> | null = null;
  private suspendedSince: number | null = null;
  private recoveryHeld: Map<string, Ownership> | null = null;
  /** latest slot the engine has handed on (see handoffTime) */
  private dispatchHorizon: (() => number) | null = null;
  /** jobsets moved away because this worker cannot reach one of their targets (confirm: 1) */
  private readonly avoided: AvoidList;

  constructor(
    private readonly ctx: ClusterContext,
    private readonly mirror: Mirror,
    private readonly load: LoadState,
    private readonly alertStates: AlertStateStore,
    private readonly cfg: OwnedJobsetsConfig,
  ) {
    this.events = new Emitter(ctx.log);
    this.backupTimers = new BackupTimers(ctx.clock, ctx.tuning);
    this.avoided = new AvoidList(ctx.clock);
  }

  setDispatchHorizon(horizon: () => number): void {
    this.dispatchHorizon = horizon;
  }

  /** No claims until `until` (epoch ms): workers starting together first see each other. */
  graceUntil(until: number): void {
    this.joinGraceUntil = until;
  }

  /** Owned and being claimed: jobs and checks/s. */
  myLoad(): { jobs: number; rate: number } {
    return loadOf(this.mirror, [...this.owned.keys(), ...this.inflight.keys()]);
  }

  /** See handoffTime() in ownership.ts. */
  handoffTime(): number {
    return handoffTime(this.ctx.clock.now(), this.dispatchHorizon);
  }

  clearBackupTimers(): void {
    this.backupTimers.clearAll();
  }

  cancelTimers(): void {
    if (this.joinTimer) this.ctx.clock.clearTimeout(this.joinTimer);
    this.joinTimer = null;
    this.backupTimers.clearAll();
  }

  // ------------------------------------------------------------------ reacting to the mirror

  /** Compare what we hold with the mirror under `lease`: drop what is gone, adopt handovers, start moves. */
  react(lease: string): void {
    const { me } = this.ctx;
    const lost: string[] = [];
    const acquired: string[] = [];
    for (const [jsid, o] of this.owned) {
      if (this.inflight.has(jsid) || this.mirror.rev < o.token) continue;
      const rec = this.mirror.owners.get(jsid);
      if (this.mirror.jobsets.has(jsid) && rec && rec.value.owner === me && rec.lease === lease) {
        o.token = rec.modRev;
        continue;
      }
      this.owned.delete(jsid);
      lost.push(jsid);
    }
    for (const [jsid, rec] of this.mirror.owners) {
      if (rec.value.owner !== me || rec.lease !== lease || this.owned.has(jsid) || this.inflight.has(jsid))
        continue;
      if ((this.gaveAwayAt.get(jsid) ?? 0) >= rec.modRev || !this.mirror.jobsets.has(jsid)) continue;
      // handed over to us (rebalance), or our own claim whose answer was lost
      this.owned.set(jsid, {
        token: rec.modRev,
        takenOver: true,
        dueSince: rec.value.since ?? this.ctx.clock.now(),
        announced: false,
      });
      acquired.push(jsid);
    }
    if (lost.length) {
      this.ctx.log.info({ jobsets: lost }, 'jobsets no longer ours');
      this.events.emit('ownership', { acquired: [], lost, reason: 'owner key changed' });
    }
    if (acquired.length) this.events.emit('ownership', { acquired, lost: [], reason: 'handed over' });
    for (const [jsid, mv] of this.mirror.moves) {
      const o = this.owned.get(jsid);
      if (o && !this.inflight.has(jsid) && mv.value.to !== me && mv.value.ownerRev === o.token) {
        void this.handover(jsid, mv.value.to, mv.modRev);
      }
    }
  }

  // ------------------------------------------------------------------ claiming

  private hasRoomFor(jobs: number, rate: number): boolean {
    const mine = this.myLoad();
    return hasRoom(
      { id: this.ctx.me, capacity: this.cfg.capacity, ...mine, shedding: false, rateCap: this.load.rateCap },
      jobs,
      rate,
    );
  }

  /** Claim (rank 0) or arm a backup claim (rank > 0) for each free jobset the plan gives us. */
  evaluateFree(): void {
    const { ctx } = this;
    if (!ctx.running() || !this.load.mayClaim() || !ctx.session?.valid()) return;
    const now = ctx.clock.now();
    if (now < this.joinGraceUntil) {
      if (!this.joinTimer) {
        this.joinTimer = ctx.clock.setTimeout(() => {
          this.joinTimer = null;
          this.events.emit('react');
        }, this.joinGraceUntil - now);
      }
      return;
    }
    const free = this.mirror.freeJobsets().filter((j) => !this.inflight.has(j.id) && !this.avoided.has(j.id));
    const freeIds = new Set(free.map((j) => j.id));
    for (const id of this.backupTimers.ids()) if (!freeIds.has(id)) this.backupTimers.clear(id);
    if (free.length === 0) return;
    const candidates: Candidate[] = otherCandidates(this.mirror, ctx.me);
    const mine = this.myLoad();
    candidates.push({
      id: ctx.me,
      capacity: this.cfg.capacity,
      jobs: mine.jobs,
      rate: mine.rate,
      shedding: this.load.shedding,
      rateCap: this.load.rateCap,
    });
    const plan = planClaims(
      free.map((j) => ({ id: j.id, jobs: j.count, rate: j.value.rate })),
      candidates,
    );
    for (const js of free) {
      const rank = plan.get(js.id)?.indexOf(ctx.me) ?? -1;
      if (rank === 0) void this.claim(js.id);
      else if (rank > 0)
        this.backupTimers.ensure(js.id, rank, () => {
          if (ctx.running() && this.mirror.isFree(js.id)) void this.claim(js.id);
        });
      else this.backupTimers.clear(js.id);
    }
  }

  private claimTxn(jsid: string, observed: number, session: Session): Promise<number | null> {
    const { ctx } = this;
    return claimTxn(ctx.rpc(), ctx.keys, ctx.me, ctx.clock, jsid, observed, session.leaseId);
  }

  private async claim(jsid: string): Promise<void> {
    const { ctx } = this;
    const session = ctx.session;
    const js = this.mirror.jobsets.get(jsid);
    const rec = this.mirror.owners.get(jsid);
    if (!session || !ctx.running() || !js || this.inflight.has(jsid) || this.owned.has(jsid)) return;
    if (rec && rec.value.owner !== null) return;
    if (this.avoided.has(jsid) || !this.hasRoomFor(js.count, js.value.rate)) return;
    this.backupTimers.clear(jsid);
    const catchUp = catchUpFor(this.mirror, jsid, this.cfg.leaseTtlSec, ctx.clock.now());
    this.inflight.set(jsid, ctx.clock.now());
    let outcome: 'won' | 'lost' | 'error' = 'error';
    try {
      const token = await this.claimTxn(jsid, rec?.modRev ?? 0, session);
      ctx.writes.accepted();
      if (token === null) {
        outcome = 'lost';
      } else if (ctx.session === session && ctx.running()) {
        outcome = 'won';
        this.owned.set(jsid, { token, ...catchUp, announced: false });
        ctx.log.debug({ jobset: jsid, token, takenOver: catchUp.takenOver }, 'claimed jobset');
        this.events.emit('ownership', { acquired: [jsid], lost: [], reason: 'claimed' });
      }
    } catch (err) {
      ctx.writes.failed(err, 'claim');
      ctx.log.debug({ jobset: jsid, err: describeError(err) }, 'claim failed');
    } finally {
      this.inflight.delete(jsid);
      this.events.emit('claim', outcome);
      this.events.emit('react');
    }
  }

  // ------------------------------------------------------------------ handing jobsets back

  /** Planned move: one fenced txn gives the jobset to `to` under ITS lease and deletes the move. */
  private async handover(jsid: string, to: string, moveRev: number): Promise<void> {
    const { ctx } = this;
    const o = this.owned.get(jsid);
    const target = this.mirror.workers.get(to);
    const session = ctx.session;
    if (!o || !target || !session || this.inflight.has(jsid)) return;
    this.inflight.set(jsid, ctx.clock.now());
    const stateOps = this.alertStates.takePendingOps(new Set([jsid]));
    // Stop running it before the txn: the taker catches up any slot from `since` on.
    this.owned.delete(jsid);
    this.events.emit('jobs');
    const since = this.handoffTime();
    const rpc = ctx.rpc();
    let given = false;
    try {
      const givenAt = await handoverTxn(rpc, ctx.keys, ctx.log, {
        jsid,
        to,
        targetLease: target.lease,
        token: o.token,
        moveRev,
        since,
        me: ctx.me,
        stateOps,
      });
      given = givenAt !== null;
      if (givenAt !== null) this.gaveAwayAt.set(jsid, givenAt);
    } finally {
      this.inflight.delete(jsid);
    }
    if (given) {
      ctx.log.info({ jobset: jsid, to }, 'handed jobset over (rebalance)');
      this.events.emit('ownership', { acquired: [], lost: [jsid], reason: `handed over to ${to}` });
    } else if (ctx.session === session && ctx.running()) {
      const rec = this.mirror.owners.get(jsid);
      if (!rec || rec.modRev === o.token) {
        // still ours: take it back and catch up what we skipped
        this.owned.set(jsid, { token: o.token, takenOver: true, dueSince: since, announced: false });
      }
    }
    this.events.emit('react');
  }

  /**
   * Releases jobsets (graceful stop, shedding): owner = null with the release time, no lease,
   * fenced by each owner token. With `running`, they leave the engine first (no slot runs twice).
   */
  async release(held: Map<string, Ownership>, running = false): Promise<void> {
    const { ctx } = this;
    const rpc = ctx.rpc();
    if (running) {
      for (const id of held.keys()) this.owned.delete(id);
      this.events.emit('jobs');
    }
    const releasedAt = this.handoffTime();
    const value = encode({ owner: null, releasedAt, by: ctx.me });
    await releaseTxns(rpc, ctx.keys, held, value, (ids) => this.alertStates.takePendingOps(ids));
  }

  /**
   * `confirm: 1`: this worker keeps failing a check of `jsid` that others pass. Releases the jobset
   * if another worker has room, and claims it back only after a while (move-away.ts).
   */
  async moveAway(jsid: string, why: string): Promise<boolean> {
    const { ctx } = this;
    const o = this.owned.get(jsid);
    const js = this.mirror.jobsets.get(jsid);
    if (!o || !js || this.inflight.has(jsid) || !ctx.running()) return false;
    const plan = planClaims(
      [{ id: jsid, jobs: js.count, rate: js.value.rate }],
      otherCandidates(this.mirror, ctx.me),
    );
    if ((plan.get(jsid)?.length ?? 0) === 0) return false;
    this.avoided.add(jsid);
    this.inflight.set(jsid, ctx.clock.now());
    try {
      await this.release(new Map([[jsid, o]]), true);
      this.events.emit('ownership', { acquired: [], lost: [jsid], reason: `moved away (${why})` });
      return true;
    } finally {
      this.inflight.delete(jsid);
      this.events.emit('react');
    }
  }

  /**
   * Releases the most expensive owned jobsets into the waiting queue until the owned rate is at
   * most `target` (at least one), only those another live worker has room for (pickShed).
   */
  async shedDownTo(target: number, ownRate: number, slope: number | null): Promise<void> {
    const { ctx } = this;
    const owned = [...this.owned.keys()]
      .filter((id) => !this.inflight.has(id))
      .map((id) => this.mirror.jobsets.get(id))
      .filter((j): j is NonNullable<typeof j> => !!j)
      .map((j) => ({ id: j.id, count: j.count, rate: j.value.rate }));
    const release = new Map<string, Ownership>();
    let shedRate = 0;
    for (const js of pickShed(owned, ownRate, target, otherCandidates(this.mirror, ctx.me))) {
      const o = this.owned.get(js.id);
      if (!o) continue;
      release.set(js.id, o);
      shedRate += js.rate;
    }
    if (release.size === 0) {
      ctx.log.warn({ target }, 'falling behind but no other worker has room: keeping the work');
      return;
    }
    for (const id of release.keys()) this.inflight.set(id, ctx.clock.now());
    try {
      await this.release(release, true);
      const kept = Math.max(0, ownRate - shedRate);
      this.load.noteShed(kept);
      ctx.log.info(
        {
          jobsets: [...release.keys()],
          shedRate: Math.round(shedRate * 1000) / 1000,
          keptRate: Math.round(kept * 1000) / 1000,
          target: Math.round(target * 1000) / 1000,
          slope,
        },
        'shed jobsets into the waiting queue',
      );
      this.events.emit('ownership', {
        acquired: [],
        lost: [...release.keys()],
        reason: 'shed (falling behind)',
      });
      this.events.emit('publish');
    } finally {
      for (const id of release.keys()) this.inflight.delete(id);
      this.events.emit('react');
    }
  }

  // ------------------------------------------------------------------ partitions

  /**
   * The lease is gone (or its deadline passed): remember what we held to reclaim it; with
   * `pause`, stop running it now (`since` = when our lease may have ended).
   */
  suspend(since: number): Map<string, Ownership> {
    this.backupTimers.clearAll();
    const held = new Map(this.owned);
    this.recoveryHeld = held;
    if (this.cfg.onPartition === 'pause') {
      this.suspendedSince = since;
      this.owned.clear();
      this.events.emit('jobs');
    }
    return held;
  }

  /** Another process took our id: run nothing until recovery succeeds. */
  dropAll(): void {
    if (this.owned.size === 0) return;
    this.owned.clear();
    this.events.emit('jobs');
  }

  /**
   * After a new listing: give up at once every jobset someone else owns now, keep what is still
   * ours under this lease, and claim the rest back by CAS only.
   */
  async reconcileAfterRecovery(session: Session): Promise<void> {
    const { ctx } = this;
    const held = this.recoveryHeld ?? new Map<string, Ownership>();
    this.recoveryHeld = null;
    const paused = this.cfg.onPartition === 'pause';
    const dueSince = this.suspendedSince ?? ctx.clock.now();
    const claims: Array<{ jsid: string; observed: number }> = [];
    const lost: string[] = [];
    for (const [jsid, o] of held) {
      const js = this.mirror.jobsets.get(jsid);
      const rec = this.mirror.owners.get(jsid);
      if (!js) {
        lost.push(jsid);
      } else if (rec && rec.value.owner === ctx.me && rec.lease === session.leaseId) {
        if (paused) this.owned.set(jsid, { token: rec.modRev, takenOver: true, dueSince, announced: false });
        else o.token = rec.modRev;
      } else if (rec && rec.value.owner !== null && rec.value.owner !== ctx.me) {
        lost.push(jsid);
      } else {
        claims.push({ jsid, observed: rec?.modRev ?? 0 });
      }
    }
    for (const jsid of lost) this.owned.delete(jsid);
    if (lost.length > 0) {
      ctx.log.info({ jobsets: lost }, 'gave up jobsets now owned by others');
      this.events.emit('ownership', {
        acquired: [],
        lost,
        reason: 'owned by another worker after partition',
      });
    }
    this.events.emit('jobs');
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
      this.events.emit('ownership', {
        acquired: paused ? regained : [],
        lost: dropped,
        reason: 'reclaim after partition',
      });
    }
    this.suspendedSince = null;
    this.events.emit('jobs');
  }
}
