/**
 * The jobsets this worker owns, and every ownership move it makes: the level-triggered reaction
 * to the mirror (here), claims of free jobsets (Claimer), handovers the admin asked for and
 * releases (GiveAway), and the reclaim after a partition (PartitionRecovery). Every write is
 * fenced by the owner key's revision (the token), so a stale view can waste an attempt but never
 * make two owners. Changes go up as events; the coordinator turns `jobs` into the engine's view.
 */
import type { AlertStateStore } from './alert-states.js';
import { Claimer } from './claimer.js';
import type { ClusterContext, Emitter } from './context.js';
import { GiveAway } from './give-away.js';
import { Holdings, type OwnedJobsetsConfig, type OwnedJobsetsEvents } from './holdings.js';
import type { LoadState } from './load-state.js';
import type { Mirror } from './mirror.js';
import { AvoidList } from './move-away.js';
import { handoffTime, type Ownership } from './ownership.js';
import { PartitionRecovery } from './partition-recovery.js';
import type { Session } from './session.js';

export type { OwnedJobsetsConfig, OwnedJobsetsEvents, OwnershipChange } from './holdings.js';

export class OwnedJobsets {
  readonly events: Emitter<OwnedJobsetsEvents>;
  readonly owned: Map<string, Ownership>;
  private readonly held: Holdings;
  private readonly claimer: Claimer;
  private readonly giveAway: GiveAway;
  private readonly recovery: PartitionRecovery;
  /** latest slot the engine has handed on (see handoffTime) */
  private dispatchHorizon: (() => number) | null = null;

  constructor(
    private readonly ctx: ClusterContext,
    private readonly mirror: Mirror,
    load: LoadState,
    alertStates: AlertStateStore,
    cfg: OwnedJobsetsConfig,
  ) {
    this.held = new Holdings(ctx, mirror);
    this.events = this.held.events;
    this.owned = this.held.owned;
    // jobsets moved away because this worker cannot reach one of their targets (confirm: 1)
    const avoided = new AvoidList(ctx.clock);
    this.claimer = new Claimer(ctx, mirror, this.held, load, avoided, cfg);
    this.giveAway = new GiveAway(ctx, mirror, this.held, load, alertStates, avoided, () =>
      this.handoffTime(),
    );
    this.recovery = new PartitionRecovery(ctx, mirror, this.held, cfg);
  }

  setDispatchHorizon(horizon: () => number): void {
    this.dispatchHorizon = horizon;
  }

  /** No claims until `until` (epoch ms): workers starting together first see each other. */
  graceUntil(until: number): void {
    this.claimer.graceUntil(until);
  }

  /** Owned and being claimed: jobs and checks/s. */
  myLoad(): { jobs: number; rate: number } {
    return this.held.myLoad();
  }

  /** See handoffTime() in ownership.ts. */
  handoffTime(): number {
    return handoffTime(this.ctx.clock.now(), this.dispatchHorizon);
  }

  clearBackupTimers(): void {
    this.claimer.clearBackupTimers();
  }

  cancelTimers(): void {
    this.claimer.cancelTimers();
  }

  // ------------------------------------------------------------------ reacting to the mirror

  /** Compare what we hold with the mirror under `lease`: drop what is gone, adopt handovers, start moves. */
  react(lease: string): void {
    const { me } = this.ctx;
    const { owned, inflight, gaveAwayAt } = this.held;
    const lost: string[] = [];
    const acquired: string[] = [];
    for (const [jsid, o] of owned) {
      if (inflight.has(jsid) || this.mirror.rev < o.token) continue;
      const rec = this.mirror.owners.get(jsid);
      if (this.mirror.jobsets.has(jsid) && rec && rec.value.owner === me && rec.lease === lease) {
        o.token = rec.modRev;
        continue;
      }
      owned.delete(jsid);
      lost.push(jsid);
    }
    for (const [jsid, rec] of this.mirror.owners) {
      if (rec.value.owner !== me || rec.lease !== lease || owned.has(jsid) || inflight.has(jsid)) continue;
      if ((gaveAwayAt.get(jsid) ?? 0) >= rec.modRev || !this.mirror.jobsets.has(jsid)) continue;
      // handed over to us (rebalance), or our own claim whose answer was lost
      owned.set(jsid, {
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
    const moves: Array<{ jsid: string; to: string; moveRev: number }> = [];
    for (const [jsid, mv] of this.mirror.moves) {
      const o = owned.get(jsid);
      if (o && !inflight.has(jsid) && mv.value.to !== me && mv.value.ownerRev === o.token) {
        moves.push({ jsid, to: mv.value.to, moveRev: mv.modRev });
      }
    }
    this.giveAway.handover(moves);
  }

  /** Claim (rank 0) or arm a backup claim (rank > 0) for each free jobset the plan gives us. */
  evaluateFree(): void {
    this.claimer.evaluateFree();
  }

  // ------------------------------------------------------------------ giving jobsets away

  /** See GiveAway.release: owner = null, fenced; with `running`, they leave the engine first. */
  release(held: Map<string, Ownership>, running = false): Promise<void> {
    return this.giveAway.release(held, running);
  }

  /** `confirm: 1`: release `jsid` if another worker has room, not claimed back for a while. */
  moveAway(jsid: string, why: string): Promise<boolean> {
    return this.giveAway.moveAway(jsid, why);
  }

  /** Release the most expensive jobsets until the owned rate is at most `target` (pickShed). */
  shedDownTo(target: number, ownRate: number, slope: number | null): Promise<void> {
    return this.giveAway.shedDownTo(target, ownRate, slope);
  }

  // ------------------------------------------------------------------ partitions

  /** The lease is gone: remember what we held; with `pause`, stop running it (PartitionRecovery). */
  suspend(since: number): Map<string, Ownership> {
    this.claimer.clearBackupTimers();
    return this.recovery.suspend(since);
  }

  /** Another process took our id: run nothing until recovery succeeds. */
  dropAll(): void {
    if (this.owned.size === 0) return;
    this.owned.clear();
    this.events.emit('jobs');
  }

  /** After a new listing: give up what others own now, keep ours, claim the rest back by CAS. */
  reconcileAfterRecovery(session: Session): Promise<void> {
    return this.recovery.reconcile(session);
  }
}
