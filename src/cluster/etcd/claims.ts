/**
 * Claiming free jobsets: the delayed attempts of backup claimers (rank × step + jitter) and the
 * CAS claim transaction whose revision is the fencing token.
 */
import type { Clock, TimerHandle } from '../../model/clock.js';
import { cmp, type EtcdRpc, op } from './client.js';
import type { ClusterContext } from './context.js';
import { ClusterError, ClusterErrorCode } from './errors.js';
import type { Keys } from './keys.js';
import { encode, parseOwner } from './values.js';

/** One pending delayed claim attempt per free jobset this worker is a backup claimer of. */
export class BackupTimers {
  private readonly timers = new Map<string, TimerHandle>();

  constructor(
    private readonly clock: Clock,
    private readonly tuning: { claimStepMs: number; claimJitterMs: number },
  ) {}

  ids(): string[] {
    return [...this.timers.keys()];
  }

  ensure(jsid: string, rank: number, fire: () => void): void {
    if (this.timers.has(jsid)) return;
    const delay = rank * this.tuning.claimStepMs + Math.floor(Math.random() * this.tuning.claimJitterMs);
    this.timers.set(
      jsid,
      this.clock.setTimeout(() => {
        this.timers.delete(jsid);
        fire();
      }, delay),
    );
  }

  clear(jsid: string): void {
    const t = this.timers.get(jsid);
    if (t) this.clock.clearTimeout(t);
    this.timers.delete(jsid);
  }

  clearAll(): void {
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    this.timers.clear();
  }
}

/**
 * The claim transaction: owner key unchanged since we read it, jobset still exists, our
 * registration still under our lease → owner = us, under our lease. Returns the fencing token
 * (revision) or null if someone else won. An error is re-read: a retried txn may have applied.
 */
export async function claimTxn(
  rpc: EtcdRpc,
  keys: Keys,
  me: string,
  clock: Clock,
  jsid: string,
  observed: number,
  leaseId: string,
): Promise<number | null> {
  const key = keys.owner(jsid);
  try {
    const r = await rpc.txn(
      [cmp.mod(key, observed), cmp.exists(keys.jobset(jsid)), cmp.lease(keys.worker(me), leaseId)],
      [op.put(key, encode({ owner: me, since: clock.now() }), leaseId)],
    );
    if (r.succeeded) return r.rev;
    if (!r.retried) return null;
    throw new ClusterError(ClusterErrorCode.UNREACHABLE, 'claim retried: outcome unknown');
  } catch (err) {
    const g = await rpc.get(key);
    const v = g.kv ? parseOwner(g.kv.value) : null;
    if (g.kv && v?.owner === me && g.kv.lease === leaseId) return g.kv.modRev;
    if (g.kv?.modRev === observed || (!g.kv && observed === 0)) throw err;
    return null;
  }
}

/** claimTxn on the context's connection, for this worker under `leaseId`. */
export function claimAs(
  ctx: ClusterContext,
  jsid: string,
  observed: number,
  leaseId: string,
): Promise<number | null> {
  return claimTxn(ctx.rpc(), ctx.keys, ctx.me, ctx.clock, jsid, observed, leaseId);
}
