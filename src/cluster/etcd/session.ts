/**
 * One lease per worker process, kept alive by our own loop (like etcd's Go `concurrency.Session`).
 *
 * The session keeps its OWN deadline: `sent time of the last acknowledged keepalive + TTL − margin`.
 * etcd expires the lease no earlier than (server receipt of that keepalive + TTL) ≥ our sent time
 * + TTL, so while `now < deadline` no other worker can hold what this lease holds. The etcd3
 * package's `lost` event can arrive seconds late; it is not used.
 *
 * Every time here is on the MONOTONIC clock (`clock.monotonic()`): a wall-clock step back must
 * never make the lease look valid longer than etcd keeps it (etcd's lease timers are monotonic
 * too). `deadlineAt()` converts the deadline to wall time for callers that name slots.
 */
import type { Clock, TimerHandle } from '../../model/clock.js';
import type { Logger } from '../../model/logger.js';
import type { EtcdRpc } from './client.js';
import { describeError } from './errors.js';

export interface SessionHooks {
  /** a keepalive was acknowledged (deadline moved) */
  onRenewed(): void;
  /** a keepalive failed while the process was running normally (network evidence, not a freeze) */
  onUnreachable(err: unknown): void;
  /** the own deadline passed without renewal ('deadline') or etcd says the lease is gone ('lost') */
  onExpired(reason: 'deadline' | 'lost'): void;
}

export interface SessionOptions {
  ttlSec: number;
  clock: Clock;
  logger: Logger;
  /** safety margin subtracted from the deadline [min(1000, max(300, TTL × 100 ms))] */
  marginMs?: number;
}

/** Beyond its timeouts, how much longer a failed call may take and still count as genuine. */
const FREEZE_SLACK_MS = 1000;

/**
 * A failed call counts as network evidence only if it did not take much longer than its `tries`
 * timeouts: a call that took far longer was frozen (SIGSTOP, a stalled host), not cut off.
 */
export function isNetworkEvidence(elapsedMs: number, timeoutMs: number, tries: number): boolean {
  return elapsedMs <= tries * timeoutMs + FREEZE_SLACK_MS;
}

export function defaultMarginMs(ttlSec: number): number {
  return Math.min(1000, Math.max(300, ttlSec * 100));
}

export class Session {
  readonly leaseId: string;
  readonly ttlMs: number;
  private readonly marginMs: number;
  private deadline: number;
  private hooks: SessionHooks | null = null;
  private tickTimer: TimerHandle | null = null;
  private deadlineTimer: TimerHandle | null = null;
  private stopped = false;
  private expiredFired = false;
  /** last acknowledged keepalive (receive time, monotonic) */
  lastOkAt: number;
  /** last failure that was real network evidence (not a call frozen by SIGSTOP), monotonic */
  lastFailureAt = 0;

  private constructor(
    private readonly rpc: EtcdRpc,
    leaseId: string,
    grantedTtlSec: number,
    sentAt: number,
    private readonly opts: SessionOptions,
  ) {
    this.leaseId = leaseId;
    this.ttlMs = grantedTtlSec * 1000;
    this.marginMs = opts.marginMs ?? defaultMarginMs(grantedTtlSec);
    this.deadline = sentAt + this.ttlMs - this.marginMs;
    this.lastOkAt = opts.clock.monotonic();
  }

  /** Grants a new lease; the deadline starts from the moment the grant was sent. */
  static async grant(rpc: EtcdRpc, opts: SessionOptions): Promise<Session> {
    const ttl = Math.max(2, Math.ceil(opts.ttlSec));
    const sentAt = opts.clock.monotonic();
    const res = await rpc.leaseGrant(ttl);
    return new Session(rpc, res.id, Math.max(1, res.ttlSec || ttl), sentAt, opts);
  }

  /** Wraps an existing lease that etcd just confirmed alive (keepalive sent at `sentAt`, monotonic). */
  static resume(
    rpc: EtcdRpc,
    leaseId: string,
    ttlSec: number,
    sentAt: number,
    opts: SessionOptions,
  ): Session {
    return new Session(rpc, leaseId, ttlSec, sentAt, opts);
  }

  /** The deadline as wall time (epoch ms), as of now. */
  deadlineAt(): number {
    return this.opts.clock.now() + (this.deadline - this.opts.clock.monotonic());
  }

  valid(): boolean {
    return !this.expiredFired && this.opts.clock.monotonic() < this.deadline;
  }

  /** True when the last keepalive outcome was a real network failure (a partition, not a freeze). */
  unreachable(): boolean {
    return this.lastFailureAt > this.lastOkAt;
  }

  start(hooks: SessionHooks): void {
    this.hooks = hooks;
    this.armDeadline();
    this.scheduleTick(this.intervalMs());
  }

  stop(): void {
    this.stopped = true;
    this.hooks = null;
    if (this.tickTimer) this.opts.clock.clearTimeout(this.tickTimer);
    if (this.deadlineTimer) this.opts.clock.clearTimeout(this.deadlineTimer);
    this.tickTimer = null;
    this.deadlineTimer = null;
  }

  /**
   * Sends one keepalive now. 'alive' moves the deadline; 'gone' means etcd no longer has the
   * lease. Rejects on network errors (recording them as evidence unless the call was frozen).
   */
  async keepAliveNow(): Promise<'alive' | 'gone'> {
    const clock = this.opts.clock;
    const sentAt = clock.monotonic();
    const timeoutMs = this.callTimeoutMs();
    try {
      const ttl = await this.rpc.keepAliveOnce(this.leaseId, timeoutMs);
      if (ttl <= 0) return 'gone';
      this.lastOkAt = clock.monotonic();
      const next = sentAt + ttl * 1000 - this.marginMs;
      if (next > this.deadline && !this.expiredFired) {
        this.deadline = next;
        this.armDeadline();
      }
      return 'alive';
    } catch (err) {
      // a keepalive tries the preferred member, then the others: up to 2 × timeout when genuine
      if (isNetworkEvidence(clock.monotonic() - sentAt, timeoutMs, 2)) this.lastFailureAt = clock.monotonic();
      throw err;
    }
  }

  /** Revokes the lease (deleting every key under it); bounded by the client's call deadline. */
  async revoke(): Promise<void> {
    this.stop();
    await this.rpc.leaseRevoke(this.leaseId);
  }

  private intervalMs(): number {
    return Math.max(200, Math.floor(this.ttlMs / 3));
  }

  private callTimeoutMs(): number {
    return Math.max(300, Math.min(1000, Math.floor(this.ttlMs / 4)));
  }

  private scheduleTick(ms: number): void {
    if (this.stopped) return;
    if (this.tickTimer) this.opts.clock.clearTimeout(this.tickTimer);
    this.tickTimer = this.opts.clock.setTimeout(() => {
      this.tickTimer = null;
      void this.tick();
    }, ms);
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.expiredFired) return;
    const t0 = this.opts.clock.monotonic();
    try {
      const r = await this.keepAliveNow();
      if (this.stopped || this.expiredFired) return;
      if (r === 'gone') {
        this.fireExpired('lost');
        return;
      }
      this.hooks?.onRenewed();
      this.scheduleTick(this.intervalMs());
    } catch (err) {
      if (this.stopped || this.expiredFired) return;
      this.opts.logger.debug(
        { err: describeError(err), ms: this.opts.clock.monotonic() - t0 },
        'lease keepalive failed',
      );
      if (this.unreachable()) this.hooks?.onUnreachable(err);
      if (!this.valid()) {
        this.fireExpired('deadline');
        return;
      }
      // Retry soon while the lease may still be saved; jitter spreads workers after a blip.
      this.scheduleTick(Math.min(this.intervalMs(), 300 + Math.floor(Math.random() * 200)));
    }
  }

  private armDeadline(): void {
    if (this.stopped || !this.hooks) return;
    if (this.deadlineTimer) this.opts.clock.clearTimeout(this.deadlineTimer);
    const wait = Math.max(0, this.deadline - this.opts.clock.monotonic());
    this.deadlineTimer = this.opts.clock.setTimeout(() => {
      this.deadlineTimer = null;
      if (this.opts.clock.monotonic() >= this.deadline) this.fireExpired('deadline');
      else this.armDeadline();
    }, wait);
  }

  /** Called by the coordinator when it finds the deadline passed before our timer fired. */
  checkExpired(): boolean {
    if (this.expiredFired) return true;
    if (this.opts.clock.monotonic() >= this.deadline) {
      this.fireExpired('deadline');
      return true;
    }
    return false;
  }

  private fireExpired(reason: 'deadline' | 'lost'): void {
    if (this.expiredFired || this.stopped) return;
    this.expiredFired = true;
    const hooks = this.hooks;
    if (this.tickTimer) this.opts.clock.clearTimeout(this.tickTimer);
    if (this.deadlineTimer) this.opts.clock.clearTimeout(this.deadlineTimer);
    this.tickTimer = null;
    this.deadlineTimer = null;
    hooks?.onExpired(reason);
  }
}
