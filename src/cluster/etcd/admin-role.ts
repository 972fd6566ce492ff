/**
 * The admin role of this worker: the AdminElection decides whether we hold the admin key; while
 * we do, AdminDuties (admin.ts) reconcile the desired config, clean up and rebalance; their
 * refused writes go to the context's WriteRefusals. The desired config arrives by one route,
 * setDesired(); `fallback` (the options' `desired`) is read only until the first snapshot.
 */
import type { ConfigSnapshot } from '../../config/types.js';
import { AdminDuties, type ScalingEvent } from './admin.js';
import { AdminElection } from './admin-election.js';
import type { ClusterContext } from './context.js';
import { Emitter } from './context.js';
import type { Mirror, MirrorChange } from './mirror.js';
import type { ClusterMetrics } from './options.js';

export interface AdminRoleEvents {
  /** this worker became (true) or stopped being (false) the admin */
  admin: [isAdmin: boolean];
  scaling: [e: ScalingEvent];
  /** look at the mirror again (a campaign ended, the role was fenced) */
  react: [];
}

export class AdminRole {
  readonly events: Emitter<AdminRoleEvents>;
  private readonly election: AdminElection;
  private duties: AdminDuties | null = null;
  private desired: ConfigSnapshot | null = null;

  constructor(
    private readonly ctx: ClusterContext,
    private readonly mirror: Mirror,
    private readonly metrics: ClusterMetrics,
    private readonly fallback: (() => ConfigSnapshot | null) | undefined,
  ) {
    this.events = new Emitter(ctx.log);
    this.election = new AdminElection(ctx, mirror);
    this.election.events.on('elected', (token) => this.start(token));
    this.election.events.on('dropped', () => {
      this.duties?.stop();
      this.duties = null;
      this.metrics.isAdmin.set(0);
      this.events.emit('admin', false);
    });
    this.election.events.on('settled', () => this.events.emit('react'));
  }

  /** Look at the admin key in the mirror: notice a loss, adopt our own key, or campaign. */
  observe(): void {
    this.election.observe();
  }

  /** Stop being admin locally (lease expired); the key itself is not touched. */
  drop(reason: string): void {
    this.election.drop(reason);
  }

  /** Graceful stop: delete the admin key if it is still ours (`token` from stopDuties). */
  resign(token: number): Promise<void> {
    return this.election.resign(token);
  }

  /** Forget the role without events (end of stop). */
  clear(): void {
    this.election.clear();
  }

  isAdmin(): boolean {
    return this.election.token() !== null;
  }

  setDesired(snapshot: ConfigSnapshot): void {
    this.desired = snapshot;
    this.duties?.onDesired();
  }

  onMirror(change: MirrorChange): void {
    if (this.duties && (change.workers || change.owners.size > 0 || change.moves || change.jobsets.size > 0))
      this.duties.onMirror();
  }

  /** Stops the duties (graceful stop); returns the token to resign with, if we were admin. */
  stopDuties(): number | null {
    this.election.cancelTimer();
    this.duties?.stop();
    this.duties = null;
    return this.election.token();
  }

  private start(token: number): void {
    const { ctx } = this;
    const m = this.metrics;
    m.isAdmin.set(1);
    this.duties = new AdminDuties({
      rpc: ctx.rpc(),
      keys: ctx.keys,
      mirror: this.mirror,
      me: ctx.me,
      token,
      clock: ctx.clock,
      logger: ctx.log.child({ role: 'admin' }),
      desired: () => this.desired ?? this.fallback?.() ?? null,
      tuning: ctx.tuning,
      onFenced: () => {
        this.election.drop('fenced');
        this.events.emit('react');
      },
      onScaling: (e) => this.events.emit('scaling', e),
      // every refused write counts; the episode (one event each way) is the worker's, not the role's
      onWriteError: (r, error) => ctx.writes.refused(r, error, 'admin reconcile'),
      onWritesAccepted: () => ctx.writes.accepted(),
    });
    this.duties.start();
    this.events.emit('admin', true);
  }
}
