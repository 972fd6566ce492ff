/**
 * The admin election, like etcd's concurrency.Election: it holds only the session, the admin key
 * and the create revision of our admin key (the token that fences every admin write).
 * Campaign is one txn on `CreateRevision(admin) == 0` (and our worker key still under our lease);
 * Resign deletes the key only if its create revision is still our token. Contention is ranked
 * (rank × adminStepMs + jitter) so that workers starting together do not all try at once.
 */
import { cmp, op } from './client.js';
import type { ClusterContext } from './context.js';
import { Emitter } from './context.js';
import { describeError } from './errors.js';
import type { Mirror } from './mirror.js';
import { adminRank } from './plan.js';
import { encode } from './values.js';

export interface AdminElectionEvents {
  /** we hold the admin key (token = its create revision) */
  elected: [token: number];
  /** we no longer hold it */
  dropped: [reason: string];
  /** a campaign ended (won or not): look at the mirror again */
  settled: [];
}

export class AdminElection {
  readonly events: Emitter<AdminElectionEvents>;
  private adminToken: number | null = null;
  private timer: ReturnType<ClusterContext['clock']['setTimeout']> | null = null;
  private contending = false;

  constructor(
    private readonly ctx: ClusterContext,
    private readonly mirror: Mirror,
  ) {
    this.events = new Emitter(ctx.log);
  }

  /** The create revision of our admin key while we are admin. */
  token(): number | null {
    return this.adminToken;
  }

  /** Compares the mirror's admin key with what we hold: notice a loss, adopt our own key, or campaign. */
  observe(): void {
    const a = this.mirror.admin;
    const session = this.ctx.session;
    if (!session) return;
    if (this.adminToken !== null) {
      if (this.mirror.rev >= this.adminToken && (!a || a.createRev !== this.adminToken))
        this.drop('admin key changed');
      return;
    }
    if (a) {
      this.cancelTimer();
      if (a.value.id === this.ctx.me && a.lease === session.leaseId) this.elected(a.createRev);
      return;
    }
    if (this.timer || this.contending) return;
    const ids = new Set(this.mirror.workers.keys());
    ids.add(this.ctx.me);
    const rank = adminRank([...ids], this.ctx.me);
    const delay = rank === 0 ? 0 : rank * this.ctx.tuning.adminStepMs + Math.floor(Math.random() * 100);
    this.timer = this.ctx.clock.setTimeout(() => {
      this.timer = null;
      if (this.ctx.running() && !this.mirror.admin && this.adminToken === null) void this.campaign();
    }, delay);
  }

  private async campaign(): Promise<void> {
    const session = this.ctx.session;
    if (!session || this.contending) return;
    this.contending = true;
    const { keys, me } = this.ctx;
    const rpc = this.ctx.rpc();
    try {
      const r = await rpc.txn(
        [cmp.create(keys.admin, 0), cmp.lease(keys.worker(me), session.leaseId)],
        [op.put(keys.admin, encode({ id: me, since: this.ctx.clock.now() }), session.leaseId)],
      );
      if (r.succeeded && this.ctx.session === session && this.ctx.running()) this.elected(r.rev);
    } catch (err) {
      this.ctx.log.debug({ err: describeError(err) }, 'admin contention failed');
    } finally {
      this.contending = false;
      this.events.emit('settled');
    }
  }

  private elected(token: number): void {
    if (this.adminToken !== null) return;
    this.adminToken = token;
    this.ctx.log.info({ token }, 'elected admin');
    this.events.emit('elected', token);
  }

  /** Stop being admin locally (fenced, lease expired, key changed); the key itself is not touched. */
  drop(reason: string): void {
    this.cancelTimer();
    if (this.adminToken === null) return;
    this.adminToken = null;
    this.ctx.log.info({ reason }, 'no longer admin');
    this.events.emit('dropped', reason);
  }

  /** Graceful stop: delete the admin key if it is still the one we created (token). Never throws. */
  async resign(token: number): Promise<void> {
    const { keys } = this.ctx;
    await this.ctx
      .rpc()
      .txn([cmp.create(keys.admin, token)], [op.del(keys.admin)])
      .catch(() => undefined);
  }

  /** Forget the role without events (end of stop). */
  clear(): void {
    this.cancelTimer();
    this.adminToken = null;
  }

  cancelTimer(): void {
    if (this.timer) this.ctx.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
