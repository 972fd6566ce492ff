/**
 * Keeps this worker's session (lease) alive and gets a new one after a partition: grant, the
 * keepalive hooks, the network evidence `--on-partition continue` relies on, and the recovery
 * loop (the old lease if it survived, else a new lease and a new registration). What happens
 * goes up as events: `unreachable`, `lost` (deadline passed or lease gone), `recovered`.
 */
import { type EtcdRpc, withTimeout } from './client.js';
import type { ClusterContext } from './context.js';
import { Emitter } from './context.js';
import { ClusterError, ClusterErrorCode, describeError, isPermanentClusterError } from './errors.js';
import { isNetworkEvidence, Session } from './session.js';

export interface SessionKeeperEvents {
  /** joining: etcd not reachable yet, retrying */
  retrying: [];
  /** a keepalive round trip succeeded */
  renewed: [];
  /** keepalives fail; the lease is still valid until its deadline */
  unreachable: [err: unknown];
  /** the session's deadline passed without renewal, or etcd no longer has the lease */
  lost: [session: Session, reason: 'deadline' | 'lost'];
  /** a recovery attempt failed for a reason the operator must know (our id taken meanwhile) */
  problem: [err: ClusterError];
  /** recovery done: `session` is current, listed and reconciled; the caller restarts it */
  recovered: [session: Session];
}

export class SessionKeeper {
  readonly events: Emitter<SessionKeeperEvents>;
  /** epoch ms of the last failed / succeeded etcd round trip */
  lastNetFailureAt = 0;
  lastNetOkAt = 0;

  constructor(
    private readonly ctx: ClusterContext,
    private readonly leaseTtlSec: number,
  ) {
    this.events = new Emitter(ctx.log);
  }

  private sessionOpts() {
    return { ttlSec: this.leaseTtlSec, clock: this.ctx.clock, logger: this.ctx.log };
  }

  /**
   * While the phase is `starting`: connect (once) and `establish` (grant, register, list), retrying
   * with backoff until it works. A permanent error (auth, TLS, id in use) revokes what was granted,
   * closes the connection, sets the phase `stopped` and is thrown.
   */
  async join(connect: () => Promise<EtcdRpc>, establish: () => Promise<void>): Promise<void> {
    const { ctx } = this;
    const { state } = ctx;
    const stopped = () => new ClusterError(ClusterErrorCode.STOPPED, 'coordinator stopped while starting');
    for (let attempt = 0; ; attempt++) {
      try {
        if (!state.rpc) state.rpc = await connect();
        await establish();
        return;
      } catch (err) {
        if (ctx.phase !== 'starting') throw stopped();
        const e = err instanceof ClusterError ? err : null;
        if (isPermanentClusterError(e)) {
          const granted = state.session;
          state.session = null;
          if (granted && state.rpc)
            await withTimeout(state.rpc.leaseRevoke(granted.leaseId), 1000, 'revoke').catch(() => undefined);
          state.rpc?.close();
          state.rpc = null;
          state.phase = 'stopped';
          throw e;
        }
        ctx.log.warn({ err: describeError(err), attempt }, 'cannot reach etcd yet; retrying');
        this.events.emit('retrying');
        await ctx.sleep(ctx.backoffMs(attempt));
        if (ctx.phase !== 'starting') throw stopped();
      }
    }
  }

  grant(): Promise<Session> {
    return Session.grant(this.ctx.rpc(), this.sessionOpts());
  }

  /** Starts the keepalive loop of `session`. */
  start(session: Session): void {
    session.start({
      onRenewed: () => {
        this.lastNetOkAt = this.ctx.clock.now();
        this.events.emit('renewed');
      },
      onUnreachable: (err) => {
        this.lastNetFailureAt = this.ctx.clock.now();
        this.ctx.log.warn(
          { err: describeError(err) },
          'etcd unreachable; lease still valid until its deadline',
        );
        this.events.emit('unreachable', err);
      },
      onExpired: (reason) => this.events.emit('lost', session, reason),
    });
  }

  /** True when the latest etcd round trip failed (the network, not this process, is the problem). */
  partitionEvidence(): boolean {
    return this.lastNetFailureAt > this.lastNetOkAt;
  }

  /**
   * While the phase is `recovering`: keep the old lease if etcd still has it, else grant a new one
   * and `register` it; make it current, then `rejoin` (re-list and reconcile what we held).
   */
  async recover(
    old: Session,
    register: (s: Session) => Promise<void>,
    rejoin: (s: Session) => Promise<void>,
  ): Promise<void> {
    const { ctx } = this;
    const rpc = ctx.rpc();
    const recovering = () => ctx.phase === 'recovering';
    for (let attempt = 0; recovering(); attempt++) {
      const sentAt = ctx.clock.monotonic(); // a lease deadline: monotonic (session.ts)
      try {
        let session: Session;
        const ttl = await rpc.keepAliveOnce(old.leaseId, Math.min(1500, old.ttlMs / 3));
        // The network evidence stands until recovery is done (lastNetOkAt below): a `continue`
        // worker keeps running what it holds while it re-lists, instead of skipping those slots.
        if (ttl > 0) {
          session = Session.resume(rpc, old.leaseId, ttl, sentAt, this.sessionOpts());
          ctx.log.info({}, 'etcd reachable again; the lease survived');
        } else {
          session = await Session.grant(rpc, this.sessionOpts());
          if (!recovering()) return;
          await register(session);
        }
        if (!recovering()) return;
        ctx.state.session = session;
        await rejoin(session);
        if (!recovering()) return;
        this.lastNetOkAt = ctx.clock.now();
        this.events.emit('recovered', session);
        return;
      } catch (err) {
        if (isNetworkEvidence(ctx.clock.monotonic() - sentAt, ctx.tuning.callTimeoutMs, 3))
          this.lastNetFailureAt = ctx.clock.now();
        if (err instanceof ClusterError && err.code === ClusterErrorCode.ID_IN_USE) {
          ctx.log.error({}, err.message);
          this.events.emit('problem', err);
        } else {
          ctx.log.debug({ err: describeError(err), attempt }, 'reconnect attempt failed');
        }
        // Never slower than the keepalive cadence: etcd extends every lease when it elects a leader
        // (e.g. restarted after an outage), and a retry that comes later than that extension
        // (TTL + election timeout) loses a lease that had survived, making others take over.
        await ctx.sleep(Math.min(ctx.backoffMs(attempt), Math.max(250, Math.floor(old.ttlMs / 3))));
      }
    }
  }
}
