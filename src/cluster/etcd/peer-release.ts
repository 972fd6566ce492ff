/**
 * Acting on a peer-observed death (peer-watch.ts): release the dead peer's jobsets on its behalf
 * (claimers catch up from `catchUpFrom`, after every slot it dispatched), then revoke its
 * lease (its admin key goes with it) instead of waiting for the TTL.
 */
import type { ClusterContext } from './context.js';
import { Emitter } from './context.js';
import { describeError } from './errors.js';
import { releaseForDead } from './handover.js';
import type { Mirror } from './mirror.js';
import { type PeerDeath, PeerWatch, type PeerWatchTuning } from './peer-watch.js';
import { encode } from './values.js';

/** The number of jobsets released, or null when there was nothing to do (not running, record changed). */
export async function releaseDeadPeer(
  ctx: ClusterContext,
  mirror: Mirror,
  d: PeerDeath,
): Promise<number | null> {
  const rpc = ctx.state.rpc;
  const rec = mirror.workers.get(d.id);
  if (!ctx.running() || !rpc || !ctx.session?.valid() || rec?.lease !== d.leaseId) return null;
  const held = new Map<string, { token: number }>();
  for (const [jsid, o] of mirror.owners)
    if (o.value.owner === d.id && o.lease === d.leaseId) held.set(jsid, { token: o.modRev });
  const value = encode({ owner: null, releasedAt: d.catchUpFrom, by: ctx.me });
  const released = await releaseForDead(rpc, ctx.keys, { id: d.id, lease: d.leaseId }, held, value);
  if (!released) {
    ctx.log.info(
      { peer: d.id, lease: d.leaseId },
      'peer gone, but its record already changed: nothing to do',
    );
    return null;
  }
  await rpc.leaseRevoke(d.leaseId).catch((err: unknown) => {
    ctx.log.warn({ peer: d.id, err: describeError(err) }, 'revoking a dead peer lease failed (it expires)');
  });
  ctx.log.warn(
    { peer: d.id, lease: d.leaseId, deadBy: d.deadBy, catchUpFrom: d.catchUpFrom, jobsets: held.size },
    'peer process died: released its jobsets and revoked its lease',
  );
  return held.size;
}

export interface PeerDeathsEvents {
  /** a watched peer's process died: its jobsets were released and its lease revoked */
  peerDeath: [e: { worker: string; lease: string; deadBy: number; jobsets: number }];
}

/** Watches this worker's ring successors (PeerWatch) from the mirror and acts on their deaths. */
export class PeerDeaths {
  readonly events: Emitter<PeerDeathsEvents>;
  private readonly watch: PeerWatch;

  constructor(
    ctx: ClusterContext,
    private readonly mirror: Mirror,
    private readonly tuning: Partial<PeerWatchTuning> | undefined,
  ) {
    this.events = new Emitter(ctx.log);
    this.watch = new PeerWatch({
      self: ctx.me,
      onDeath: (d) =>
        void releaseDeadPeer(ctx, mirror, d).then((jobsets) => {
          if (jobsets !== null)
            this.events.emit('peerDeath', { worker: d.id, lease: d.leaseId, deadBy: d.deadBy, jobsets });
        }),
      clock: ctx.clock,
      logger: ctx.log,
      tuning,
    });
  }

  /** The workers changed (or were re-listed): watch the new successors. */
  update(): void {
    if (this.tuning?.successors === 0) return;
    this.watch.update(
      [...this.mirror.workers].map(([id, w]) => ({
        id,
        leaseId: w.lease,
        startedAt: w.value.startedAt,
        address: w.value.address,
      })),
    );
  }

  stop(): void {
    this.watch.stop();
  }
}
