/**
 * Acting on a peer-observed death (peer-watch.ts): release the dead peer's jobsets on its behalf
 * (claimers catch up from `deadBy`, after every slot it could have dispatched), then revoke its
 * lease (its admin key goes with it) instead of waiting for the TTL.
 */
import type { ClusterContext } from './context.js';
import { describeError } from './errors.js';
import { releaseForDead } from './handover.js';
import type { Mirror } from './mirror.js';
import type { PeerDeath } from './peer-watch.js';
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
  const value = encode({ owner: null, releasedAt: d.deadBy, by: ctx.me });
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
    { peer: d.id, lease: d.leaseId, deadBy: d.deadBy, jobsets: held.size },
    'peer process died: released its jobsets and revoked its lease',
  );
  return held.size;
}
