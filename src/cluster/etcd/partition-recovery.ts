/**
 * Ownership across a partition: when the lease is gone (or its deadline passed) remember what this
 * worker held (with `pause`, stop running it); after recovery and a new listing, give up what
 * another worker owns now, keep what is still ours, and claim the rest back by CAS only.
 */
import { claimAs } from './claims.js';
import type { ClusterContext } from './context.js';
import type { Holdings, OwnedJobsetsConfig } from './holdings.js';
import type { Mirror } from './mirror.js';
import type { Ownership } from './ownership.js';
import type { Session } from './session.js';

export class PartitionRecovery {
  private suspendedSince: number | null = null;
  private recoveryHeld: Map<string, Ownership> | null = null;

  constructor(
    private readonly ctx: ClusterContext,
    private readonly mirror: Mirror,
    private readonly held: Holdings,
    private readonly cfg: OwnedJobsetsConfig,
  ) {}

  /**
   * The lease is gone (or its deadline passed): remember what we held to reclaim it; with
   * `pause`, stop running it now (`since` = when our lease may have ended).
   */
  suspend(since: number): Map<string, Ownership> {
    const { held } = this;
    const snapshot = new Map(held.owned);
    this.recoveryHeld = snapshot;
    if (this.cfg.onPartition === 'pause') {
      this.suspendedSince = since;
      held.owned.clear();
      held.events.emit('jobs');
    }
    return snapshot;
  }

  /**
   * After a new listing: give up at once every jobset someone else owns now, keep what is still
   * ours under this lease, and claim the rest back by CAS only.
   */
  async reconcile(session: Session): Promise<void> {
    const { ctx, held: h } = this;
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
        if (paused) h.owned.set(jsid, { token: rec.modRev, takenOver: true, dueSince, announced: false });
        else o.token = rec.modRev;
      } else if (rec && rec.value.owner !== null && rec.value.owner !== ctx.me) {
        lost.push(jsid);
      } else {
        claims.push({ jsid, observed: rec?.modRev ?? 0 });
      }
    }
    for (const jsid of lost) h.owned.delete(jsid);
    if (lost.length > 0) {
      ctx.log.info({ jobsets: lost }, 'gave up jobsets now owned by others');
      h.events.emit('ownership', {
        acquired: [],
        lost,
        reason: 'owned by another worker after partition',
      });
    }
    h.events.emit('jobs');
    const results = await Promise.all(
      claims.map(async ({ jsid, observed }) => {
        const token = await claimAs(ctx, jsid, observed, session.leaseId).catch(() => null);
        return { jsid, token };
      }),
    );
    const regained: string[] = [];
    const dropped: string[] = [];
    for (const { jsid, token } of results) {
      if (token !== null) {
        regained.push(jsid);
        const prev = h.owned.get(jsid);
        if (prev) prev.token = token;
        else h.owned.set(jsid, { token, takenOver: true, dueSince, announced: false });
      } else {
        dropped.push(jsid);
        h.owned.delete(jsid);
      }
    }
    if (regained.length || dropped.length) {
      h.events.emit('ownership', {
        acquired: paused ? regained : [],
        lost: dropped,
        reason: 'reclaim after partition',
      });
    }
    this.suspendedSince = null;
    h.events.emit('jobs');
  }
}
