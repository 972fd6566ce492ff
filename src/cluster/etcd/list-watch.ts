/**
 * One small key range kept in step with etcd, for the per-worker duties outside coordination
 * (operator commands, the desired `self` block): list it, watch from the next revision, and on any
 * watch problem list again after `retryMs`, until that works. The coordination keys have their own
 * (mirror-sync.ts, with the coordinator's phases and backoff).
 */
import type { Clock, TimerHandle } from '../../model/clock.js';
import type { Logger } from '../../model/logger.js';
import type { EtcdRpc, KeyValue, WatchEvent } from './client.js';
import { describeError } from './errors.js';
import { RangeWatch } from './watch.js';

export interface ListWatchOptions {
  rpc: EtcdRpc;
  clock: Clock;
  logger: Logger;
  /** names the range in log lines ("command", "self block") */
  what: string;
  start: string;
  end: Buffer;
  retryMs?: number;
}

export interface ListWatchHandlers {
  /** the whole range as listed: first at start, then after every re-list */
  onList(kvs: KeyValue[]): void;
  onEvents(events: WatchEvent[]): void;
}

export class ListWatch {
  private watch: RangeWatch | null = null;
  private retryTimer: TimerHandle | null = null;
  private closed = false;

  constructor(
    private readonly o: ListWatchOptions,
    private readonly handlers: ListWatchHandlers,
  ) {}

  /** The first listing (rejects when it fails; the caller decides); later breaks re-list by themselves. */
  start(): Promise<void> {
    return this.resync();
  }

  close(): void {
    this.closed = true;
    this.watch?.close();
    if (this.retryTimer) this.o.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private async resync(): Promise<void> {
    const { rpc, start, end } = this.o;
    this.watch?.close();
    const { rev, kvs } = await rpc.list(start, end);
    if (this.closed) return;
    this.handlers.onList(kvs);
    const watch = new RangeWatch(rpc, this.o.clock, {
      onEvents: (events) => this.handlers.onEvents(events),
      onBroken: (reason) => {
        if (this.closed) return;
        this.o.logger.warn({ reason }, `${this.o.what} watch broken; re-listing`);
        this.scheduleResync();
      },
    });
    this.watch = watch;
    watch.start(start, end, rev + 1);
  }

  private scheduleResync(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = this.o.clock.setTimeout(() => {
      this.retryTimer = null;
      this.resync().catch((err: unknown) => {
        this.o.logger.warn({ err: describeError(err) }, `${this.o.what} list failed; retrying`);
        this.scheduleResync();
      });
    }, this.o.retryMs ?? 1000);
  }
}
