/**
 * Claiming free jobsets: the claim plan says who claims each free jobset; rank 0 claims at once,
 * backups arm a delayed attempt (BackupTimers), nobody claims during the join grace. A won claim
 * is owned with its revision as the fencing token, catching up from where the last owner stopped.
 */
import { BackupTimers, claimAs } from './claims.js';
import type { ClusterContext } from './context.js';
import { describeError } from './errors.js';
import type { Holdings, OwnedJobsetsConfig } from './holdings.js';
import type { LoadState } from './load-state.js';
import type { Mirror } from './mirror.js';
import type { AvoidList } from './move-away.js';
import { catchUpFor, otherCandidates } from './ownership.js';
import { type Candidate, hasRoom, planClaimRanks } from './plan.js';

export class Claimer {
  private readonly backupTimers: BackupTimers;
  private joinGraceUntil = 0;
  private joinTimer: ReturnType<ClusterContext['clock']['setTimeout']> | null = null;

  constructor(
    private readonly ctx: ClusterContext,
    private readonly mirror: Mirror,
    private readonly held: Holdings,
    private readonly load: LoadState,
    private readonly avoided: AvoidList,
    private readonly cfg: OwnedJobsetsConfig,
  ) {
    this.backupTimers = new BackupTimers(ctx.clock, ctx.tuning);
  }

  /** No claims until `until` (epoch ms): workers starting together first see each other. */
  graceUntil(until: number): void {
    this.joinGraceUntil = until;
  }

  clearBackupTimers(): void {
    this.backupTimers.clearAll();
  }

  cancelTimers(): void {
    if (this.joinTimer) this.ctx.clock.clearTimeout(this.joinTimer);
    this.joinTimer = null;
    this.backupTimers.clearAll();
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
          this.held.events.emit('react');
        }, this.joinGraceUntil - now);
      }
      return;
    }
    const free = this.mirror
      .freeJobsets()
      .filter((j) => !this.held.inflight.has(j.id) && !this.avoided.has(j.id));
    const freeIds = new Set(free.map((j) => j.id));
    for (const id of this.backupTimers.ids()) if (!freeIds.has(id)) this.backupTimers.clear(id);
    if (free.length === 0) return;
    const candidates: Candidate[] = otherCandidates(this.mirror, ctx.me);
    const mine = this.held.myLoad();
    candidates.push({
      id: ctx.me,
      capacity: this.cfg.capacity,
      jobs: mine.jobs,
      rate: mine.rate,
      shedding: this.load.shedding,
      rateCap: this.load.rateCap,
    });
    const ranks = planClaimRanks(
      free.map((j) => ({ id: j.id, jobs: j.count, rate: j.rate })),
      candidates,
      ctx.me,
    );
    for (const js of free) {
      const rank = ranks.get(js.id) ?? -1;
      if (rank === 0) void this.claim(js.id);
      else if (rank > 0)
        this.backupTimers.ensure(js.id, rank, () => {
          if (ctx.running() && this.mirror.isFree(js.id)) void this.claim(js.id);
        });
      else this.backupTimers.clear(js.id);
    }
  }

  private hasRoomFor(jobs: number, rate: number): boolean {
    const mine = this.held.myLoad();
    return hasRoom(
      { id: this.ctx.me, capacity: this.cfg.capacity, ...mine, shedding: false, rateCap: this.load.rateCap },
      jobs,
      rate,
    );
  }

  private async claim(jsid: string): Promise<void> {
    const { ctx, held } = this;
    const session = ctx.session;
    const js = this.mirror.jobsets.get(jsid);
    const rec = this.mirror.owners.get(jsid);
    if (!session || !ctx.running() || !js || held.inflight.has(jsid) || held.owned.has(jsid)) return;
    if (rec && rec.value.owner !== null) return;
    if (this.avoided.has(jsid) || !this.hasRoomFor(js.count, js.rate)) return;
    this.backupTimers.clear(jsid);
    const catchUp = catchUpFor(this.mirror, jsid, this.cfg.leaseTtlSec, ctx.clock.now());
    held.inflight.set(jsid, ctx.clock.now());
    let outcome: 'won' | 'lost' | 'error' = 'error';
    try {
      const token = await claimAs(ctx, jsid, rec?.modRev ?? 0, session.leaseId);
      ctx.writes.accepted();
      if (token === null) {
        outcome = 'lost';
      } else if (ctx.session === session && ctx.running()) {
        outcome = 'won';
        held.owned.set(jsid, { token, ...catchUp, announced: false });
        ctx.log.debug({ jobset: jsid, token, takenOver: catchUp.takenOver }, 'claimed jobset');
        held.events.emit('ownership', { acquired: [jsid], lost: [], reason: 'claimed' });
      }
    } catch (err) {
      ctx.writes.failed(err, 'claim');
      ctx.log.debug({ jobset: jsid, err: describeError(err) }, 'claim failed');
    } finally {
      held.inflight.delete(jsid);
      held.events.emit('claim', outcome);
      held.events.emit('react');
    }
  }
}
