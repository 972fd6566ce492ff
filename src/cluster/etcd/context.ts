/**
 * What every piece of the etcd coordinator shares, below the pieces: the connection, the key
 * layout, the clock, the logger, this worker's id, the tuning and one backoff. The coordinator
 * owns the mutable `state` (phase, connection, current session); pieces read it and send what
 * happened up as events (`Emitter`), never by calling back into the coordinator.
 *
 * A new piece (operator commands, a second opinion before DOWN...) takes this context and an
 * emitter of its own; the coordinator subscribes to its events in its wiring.
 */
import { backoffDelay } from '../../model/backoff.js';
import type { Clock, TimerHandle } from '../../model/clock.js';
import type { Logger } from '../../model/logger.js';
import type { EtcdRpc } from './client.js';
import { ClusterError, ClusterErrorCode, describeError } from './errors.js';
import type { Keys } from './keys.js';
import type { CoordinatorTuning } from './options.js';
import type { Session } from './session.js';
import { WriteRefusals } from './write-refusals.js';

export type Phase = 'new' | 'starting' | 'running' | 'recovering' | 'stopping' | 'stopped';

export interface ClusterState {
  phase: Phase;
  rpc: EtcdRpc | null;
  session: Session | null;
}

export class ClusterContext {
  readonly state: ClusterState = { phase: 'new', rpc: null, session: null };
  /** every piece reports its refused and accepted writes here (write-refusals.ts) */
  readonly writes: WriteRefusals;

  constructor(
    readonly keys: Keys,
    readonly clock: Clock,
    readonly log: Logger,
    readonly me: string,
    readonly tuning: CoordinatorTuning,
  ) {
    this.writes = new WriteRefusals(clock, log);
  }

  get phase(): Phase {
    return this.state.phase;
  }

  get session(): Session | null {
    return this.state.session;
  }

  running(): boolean {
    return this.state.phase === 'running';
  }

  /** The connection; throws `CLUSTER_STOPPED` without one. */
  rpc(): EtcdRpc {
    if (!this.state.rpc) throw new ClusterError(ClusterErrorCode.STOPPED, 'no etcd connection');
    return this.state.rpc;
  }

  /** Retry delay after `attempt` failures (0 = first retry): 250 ms doubling up to maxBackoffMs, equal jitter. */
  backoffMs(attempt: number): number {
    return backoffDelay(attempt + 1, { baseMs: 250, maxMs: this.tuning.maxBackoffMs }, undefined);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }

  /** Runs `work` for at most `ms` (then gives up waiting); a failure is logged with `failed`, never thrown. */
  async bounded(ms: number, failed: string, work: () => Promise<void>): Promise<void> {
    let timer: TimerHandle | null = null;
    await Promise.race([
      work().catch((err: unknown) => this.log.warn({ err: describeError(err) }, failed)),
      new Promise<void>((resolve) => {
        timer = this.clock.setTimeout(resolve, ms);
      }),
    ]);
    if (timer) this.clock.clearTimeout(timer);
  }
}

/** A typed synchronous event emitter; a throwing listener is logged, never breaks the sender. */
export class Emitter<Events extends { [K in keyof Events]: unknown[] }> {
  // biome-ignore lint/suspicious/noExplicitAny: listeners of different events share the map
  private readonly listeners = new Map<keyof Events, Array<(...args: any[]) => void>>();

  constructor(private readonly log: Logger) {}

  on<E extends keyof Events>(event: E, fn: (...args: Events[E]) => void): void {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), fn]);
  }

  off<E extends keyof Events>(event: E, fn: (...args: Events[E]) => void): void {
    this.listeners.set(
      event,
      (this.listeners.get(event) ?? []).filter((f) => f !== (fn as unknown)),
    );
  }

  emit<E extends keyof Events>(event: E, ...args: Events[E]): void {
    for (const fn of this.listeners.get(event) ?? []) {
      try {
        fn(...args);
      } catch (err) {
        this.log.error(
          { event: String(event), err: describeError(err) },
          'coordinator event listener failed',
        );
      }
    }
  }
}
