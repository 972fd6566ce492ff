/**
 * The admin's part in moving jobsets: deleting stale moves and orphan owner keys, and planning
 * rebalancing moves (only once nothing claimable waits; a moved jobset is not moved back to the
 * worker it came from during the cooldown). Moves are written fenced (AdminWriter.putMove); the
 * owner hands the jobset over itself (give-away.ts).
 */

import type { AdminContext } from './admin-context.js';
import type { AdminWriter } from './admin-writer.js';
import { type Op, op } from './client.js';
import type { Keys } from './keys.js';
import type { Mirror } from './mirror.js';
import { workerCandidates } from './ownership.js';
import { hasRoom, type OwnedJobset, planMoves } from './plan.js';
import { encode } from './values.js';

/** Deletes of moves that no longer apply (owner changed, worker gone...) and of owner keys without a jobset. */
export function staleMoveOps(mirror: Mirror, keys: Keys): Op[] {
  const ops: Op[] = [];
  for (const [id, mv] of mirror.moves) {
    const owner = mirror.owners.get(id);
    const stale =
      !mirror.jobsets.has(id) ||
      !owner ||
      owner.modRev !== mv.value.ownerRev ||
      owner.value.owner === null ||
      !mirror.workers.has(mv.value.to) ||
      !mirror.workers.has(owner.value.owner);
    if (stale) ops.push(op.del(keys.move(id)));
  }
  for (const id of mirror.owners.keys()) if (!mirror.jobsets.has(id)) ops.push(op.del(keys.owner(id)));
  return ops;
}

export class Rebalancer {
  /** jobset → when it was last moved and from which worker */
  private readonly movedAt = new Map<string, { at: number; from: string }>();

  constructor(
    private readonly c: AdminContext,
    private readonly writer: AdminWriter,
  ) {}

  async cleanup(): Promise<void> {
    const ops = staleMoveOps(this.c.mirror, this.c.keys);
    if (ops.length > 0) {
      await this.writer.write(ops);
      this.c.logger.debug({ ops: ops.length }, 'admin cleaned stale moves and orphan owner keys');
    }
  }

  /**
   * Plans and writes one round of moves. Returns in how many ms to look again when the cooldown
   * alone blocked every move (nothing else would wake housekeeping up in a quiet cluster), else null.
   */
  async rebalance(): Promise<number | null> {
    const { mirror } = this.c;
    if (mirror.moves.size > 0) return null;
    const candidates = workerCandidates(mirror);
    // Abandoned work is claimed first; move only once nothing claimable waits.
    for (const js of mirror.freeJobsets()) {
      if (candidates.some((c) => !c.shedding && hasRoom(c, js.count, js.rate))) return null;
    }
    const now = this.c.clock.now();
    const owned: OwnedJobset[] = [];
    let coolUntil = Number.POSITIVE_INFINITY;
    for (const [id, o] of mirror.owners) {
      const js = mirror.jobsets.get(id);
      if (!js || o.value.owner === null) continue;
      const moved = this.movedAt.get(id);
      const cooling = moved && moved.at + this.c.tuning.moveCooldownMs > now ? moved : undefined;
      if (cooling) coolUntil = Math.min(coolUntil, cooling.at + this.c.tuning.moveCooldownMs);
      else this.movedAt.delete(id);
      owned.push({
        id,
        owner: o.value.owner,
        jobs: js.count,
        rate: js.rate,
        movable: !mirror.moves.has(id),
        notTo: cooling?.from,
      });
    }
    const maxMoves =
      this.c.tuning.maxMovesPerRound ?? Math.min(32, Math.max(2, Math.ceil(mirror.jobsets.size / 20)));
    const moves = planMoves(candidates, owned, { maxMoves });
    if (moves.length === 0) {
      return coolUntil !== Number.POSITIVE_INFINITY ? coolUntil - now + 50 : null;
    }
    let written = 0;
    for (const m of moves) {
      const owner = mirror.owners.get(m.jobset);
      if (!owner || this.writer.stopped) continue;
      const value = encode({ to: m.to, ownerRev: owner.modRev, at: now });
      const outcome = await this.writer.putMove(m.jobset, owner.modRev, value);
      if (outcome === 'fenced') return null;
      if (outcome === 'written') {
        written++;
        this.movedAt.set(m.jobset, { at: now, from: m.from });
      }
    }
    if (written > 0)
      this.c.logger.info({ moves: written, planned: moves.length }, 'admin planned rebalancing moves');
    return null;
  }
}
