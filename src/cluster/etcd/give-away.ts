/**
 * Giving owned jobsets away: the handover the admin planned (a move to another worker's lease),
 * releases into the waiting queue (graceful stop, shedding, `confirm: 1` move-away). The jobsets
 * leave the engine before the write, and the next owner catches up from the handoff time (just
 * after the latest slot this worker dispatched), so no slot runs twice or never.
 */
import type { AlertStateStore } from './alert-states.js';
import type { ClusterContext } from './context.js';
import { handoverTxn, releaseTxns } from './handover.js';
import type { Holdings } from './holdings.js';
import type { LoadState } from './load-state.js';
import type { Mirror } from './mirror.js';
import type { AvoidList } from './move-away.js';
import { type Ownership, otherCandidates } from './ownership.js';
import { planClaims } from './plan.js';
import type { Session } from './session.js';
import { pickShed } from './shedding.js';
import { encode } from './values.js';

/** A handover under way: the move, the token it is fenced by, the alert states it carries. */
interface Handover {
  jsid: string;
  to: string;
  moveRev: number;
  o: Ownership;
  targetLease: string;
  stateOps: ReturnType<AlertStateStore['takePendingOps']>;
}

export class GiveAway {
  constructor(
    private readonly ctx: ClusterContext,
    private readonly mirror: Mirror,
    private readonly held: Holdings,
    private readonly load: LoadState,
    private readonly alertStates: AlertStateStore,
    private readonly avoided: AvoidList,
    /** where the next owner catches up from (OwnedJobsets.handoffTime) */
    private readonly handoffTime: () => number,
  ) {}

  /**
   * Planned moves: for each, one fenced txn gives the jobset to `to` under ITS lease and deletes
   * the move. All of them leave the engine first, in one update of its jobs (one per handover
   * rebuilt the engine's view once per jobset of a rebalancing round).
   */
  handover(moves: Array<{ jsid: string; to: string; moveRev: number }>): void {
    const { ctx, held } = this;
    const session = ctx.session;
    if (!session) return;
    const started: Handover[] = [];
    for (const { jsid, to, moveRev } of moves) {
      const o = held.owned.get(jsid);
      const target = this.mirror.workers.get(to);
      if (!o || !target || held.inflight.has(jsid)) continue;
      held.inflight.set(jsid, ctx.clock.now());
      const stateOps = this.alertStates.takePendingOps(new Set([jsid]));
      // Stop running it before the txn: the taker catches up any slot from `since` on.
      held.owned.delete(jsid);
      started.push({ jsid, to, moveRev, o, targetLease: target.lease, stateOps });
    }
    if (started.length === 0) return;
    held.events.emit('jobs');
    const since = this.handoffTime();
    for (const m of started) void this.handOne(session, m, since);
  }

  private async handOne(session: Session, m: Handover, since: number): Promise<void> {
    const { ctx, held } = this;
    const { jsid, to, o, stateOps } = m;
    let given = false;
    try {
      const givenAt = await handoverTxn(ctx.rpc(), ctx.keys, ctx.log, {
        jsid,
        to,
        targetLease: m.targetLease,
        token: o.token,
        moveRev: m.moveRev,
        since,
        me: ctx.me,
        stateOps,
      });
      given = givenAt !== null;
      if (givenAt !== null) held.gaveAwayAt.set(jsid, givenAt);
    } finally {
      held.inflight.delete(jsid);
    }
    if (given) {
      ctx.log.info({ jobset: jsid, to }, 'handed jobset over (rebalance)');
      held.events.emit('ownership', { acquired: [], lost: [jsid], reason: `handed over to ${to}` });
    } else if (ctx.session === session && ctx.running()) {
      const rec = this.mirror.owners.get(jsid);
      if (!rec || rec.modRev === o.token) {
        // still ours: take it back and catch up what we skipped
        held.owned.set(jsid, { token: o.token, takenOver: true, dueSince: since, announced: false });
      }
    }
    held.events.emit('react');
  }

  /**
   * Releases jobsets (graceful stop, shedding): owner = null with the release time, no lease,
   * fenced by each owner token. With `running`, they leave the engine first (no slot runs twice).
   */
  async release(jobsets: Map<string, Ownership>, running = false): Promise<void> {
    const { ctx, held } = this;
    const rpc = ctx.rpc();
    if (running) {
      for (const id of jobsets.keys()) held.owned.delete(id);
      held.events.emit('jobs');
    }
    const releasedAt = this.handoffTime();
    const value = encode({ owner: null, releasedAt, by: ctx.me });
    await releaseTxns(rpc, ctx.keys, jobsets, value, (ids) => this.alertStates.takePendingOps(ids));
  }

  /**
   * `confirm: 1`: this worker keeps failing a check of `jsid` that others pass. Releases the jobset
   * if another worker has room, and claims it back only after a while (move-away.ts).
   */
  async moveAway(jsid: string, why: string): Promise<boolean> {
    const { ctx, held } = this;
    const o = held.owned.get(jsid);
    const js = this.mirror.jobsets.get(jsid);
    if (!o || !js || held.inflight.has(jsid) || !ctx.running()) return false;
    const plan = planClaims(
      [{ id: jsid, jobs: js.count, rate: js.rate }],
      otherCandidates(this.mirror, ctx.me),
    );
    if ((plan.get(jsid)?.length ?? 0) === 0) return false;
    this.avoided.add(jsid);
    held.inflight.set(jsid, ctx.clock.now());
    try {
      await this.release(new Map([[jsid, o]]), true);
      held.events.emit('ownership', { acquired: [], lost: [jsid], reason: `moved away (${why})` });
      return true;
    } finally {
      held.inflight.delete(jsid);
      held.events.emit('react');
    }
  }

  /**
   * Releases the most expensive owned jobsets into the waiting queue until the owned rate is at
   * most `target` (at least one), only those another live worker has room for (pickShed).
   */
  async shedDownTo(target: number, ownRate: number, slope: number | null): Promise<void> {
    const { ctx, held } = this;
    const owned = [...held.owned.keys()]
      .filter((id) => !held.inflight.has(id))
      .map((id) => this.mirror.jobsets.get(id))
      .filter((j): j is NonNullable<typeof j> => !!j)
      .map((j) => ({ id: j.id, count: j.count, rate: j.rate }));
    const release = new Map<string, Ownership>();
    let shedRate = 0;
    for (const js of pickShed(owned, ownRate, target, otherCandidates(this.mirror, ctx.me))) {
      const o = held.owned.get(js.id);
      if (!o) continue;
      release.set(js.id, o);
      shedRate += js.rate;
    }
    if (release.size === 0) {
      ctx.log.warn({ target }, 'falling behind but no other worker has room: keeping the work');
      return;
    }
    for (const id of release.keys()) held.inflight.set(id, ctx.clock.now());
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
      held.events.emit('ownership', {
        acquired: [],
        lost: [...release.keys()],
        reason: 'shed (falling behind)',
      });
      held.events.emit('publish');
    } finally {
      for (const id of release.keys()) held.inflight.delete(id);
      held.events.emit('react');
    }
  }
}
