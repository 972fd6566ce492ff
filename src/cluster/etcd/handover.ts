/**
 * Giving jobsets away: the planned-move handover txn and the release txns (graceful stop,
 * shedding). Both are fenced by the owner token, and carry pending alert-state puts inside.
 */
import type { Logger } from '../../model/logger.js';
import { cmp, type EtcdRpc, op } from './client.js';
import { ClusterError, ClusterErrorCode, describeError } from './errors.js';
import type { Keys } from './keys.js';
import { encode, parseOwner } from './values.js';

type PutOp = ReturnType<typeof op.put>;

export interface HandoverTxn {
  jsid: string;
  to: string;
  /** the target worker's lease: the jobset is put under it */
  targetLease: string;
  token: number;
  moveRev: number;
  since: number;
  me: string;
  stateOps: PutOp[];
}

/**
 * Planned move: one fenced txn gives the jobset to `to` under ITS lease and deletes the move.
 * Returns the revision the jobset was given away at, or null if it was not (or is unknown).
 */
export async function handoverTxn(
  rpc: EtcdRpc,
  keys: Keys,
  log: Logger,
  h: HandoverTxn,
): Promise<number | null> {
  const { jsid, to } = h;
  const key = keys.owner(jsid);
  let givenAt: number | null = null;
  try {
    const r = await rpc.txn(
      [cmp.mod(key, h.token), cmp.lease(keys.worker(to), h.targetLease), cmp.mod(keys.move(jsid), h.moveRev)],
      [
        op.put(key, encode({ owner: to, since: h.since, from: h.me }), h.targetLease),
        op.del(keys.move(jsid)),
        ...h.stateOps,
      ],
    );
    if (r.succeeded) givenAt = r.rev;
    else if (r.retried)
      throw new ClusterError(ClusterErrorCode.UNREACHABLE, 'handover retried: outcome unknown');
  } catch (err) {
    try {
      const g = await rpc.get(key);
      const v = g.kv ? parseOwner(g.kv.value) : null;
      if (v?.owner === to && g.kv) givenAt = g.kv.modRev;
    } catch {
      // unknown: the mirror will tell (react() adopts it back if still ours)
    }
    log.debug({ jobset: jsid, err: describeError(err) }, 'handover txn failed');
  }
  return givenAt;
}

/**
 * Release txns: owner = null with the release time, no lease, fenced by each owner token; in
 * groups of 25, a failed group retried one jobset at a time.
 */
export async function releaseTxns(
  rpc: EtcdRpc,
  keys: Keys,
  held: ReadonlyMap<string, { token: number }>,
  value: string,
  takeStateOps: (ids: Set<string>) => PutOp[],
): Promise<void> {
  const release = async (ids: string[]): Promise<boolean> => {
    const stateOps = takeStateOps(new Set(ids));
    const r = await rpc.txn(
      ids.map((id) => cmp.mod(keys.owner(id), held.get(id)!.token)),
      [...ids.map((id) => op.put(keys.owner(id), value)), ...stateOps],
    );
    return r.succeeded;
  };
  const ids = [...held.keys()];
  const groups: string[][] = [];
  for (let i = 0; i < ids.length; i += 25) groups.push(ids.slice(i, i + 25));
  await Promise.all(
    groups.map(async (g) => {
      const ok = await release(g).catch(() => false);
      if (!ok && g.length > 1) await Promise.all(g.map((id) => release([id]).catch(() => false)));
    }),
  );
}

/**
 * Releases a dead peer's jobsets on its behalf (docs/CLUSTER.md "Peer-observed death"): like a
 * release, fenced by each owner key's revision, and the first txn also deletes its worker record
 * compared on its lease, so claimers see the jobsets free and the worker gone in one revision.
 * False (nothing written) when the record is no longer under that lease: it stopped or restarted.
 */
export async function releaseForDead(
  rpc: EtcdRpc,
  keys: Keys,
  dead: { id: string; lease: string },
  held: ReadonlyMap<string, { token: number }>,
  value: string,
): Promise<boolean> {
  const worker = keys.worker(dead.id);
  const ids = [...held.keys()];
  const first = ids.slice(0, 25);
  const whole = await rpc
    .txn(
      [cmp.lease(worker, dead.lease), ...first.map((id) => cmp.mod(keys.owner(id), held.get(id)!.token))],
      [op.del(worker), ...first.map((id) => op.put(keys.owner(id), value))],
    )
    .catch(() => null);
  let rest = ids.slice(25);
  if (!whole?.succeeded) {
    const alone = await rpc.txn([cmp.lease(worker, dead.lease)], [op.del(worker)]).catch(() => null);
    if (!alone?.succeeded) return false;
    rest = ids;
  }
  if (rest.length > 0)
    await releaseTxns(rpc, keys, new Map(rest.map((id) => [id, held.get(id)!])), value, () => []);
  return true;
}
