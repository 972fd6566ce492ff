import type { Metrics } from '../metrics.js';
import { type BackoffPolicy, backoffDelay } from '../model/backoff.js';
import type { Clock, TimerHandle } from '../model/clock.js';
import type { Logger } from '../model/logger.js';
import { Deque } from './deque.js';
import { SinkError } from './errors.js';
import type { SendReport, Sink, SinkStats } from './types.js';

/** State changes are `alert`s: sent before, and evicted after, plain `result`s. */
export type Priority = 'alert' | 'result';

export interface OutboxOptions {
  /** longest an item waits for companions before its batch is sent, ms */
  flushIntervalMs: number;
  /** most items buffered (not counting the batch in flight); past it the oldest results are dropped */
  bufferSize: number;
  backoff: BackoffPolicy;
  /**
   * Attempts of one item that the destination rejects on its own (a partial failure, e.g. an
   * EventBridge entry with an ErrorCode) or that hit an unexpected error. Whole-batch outages
   * (network, 5xx, 429) are not counted here: the buffer bound is their limit.
   */
  maxItemAttempts: number;
  random?: () => number;
}

export const DEFAULT_OUTBOX_OPTIONS: OutboxOptions = {
  flushIntervalMs: 1000,
  bufferSize: 10_000,
  backoff: { baseMs: 500, maxMs: 30_000 },
  maxItemAttempts: 10,
};

export interface OutboxDeps {
  clock: Clock;
  logger: Logger;
  metrics: Pick<Metrics, 'sinkSent' | 'sinkDropped'>;
  /** told about every drop (buffer full, permanent error, shutdown) */
  onDrop?: (sink: string, count: number, reason: string) => void;
  /** removes secrets from error text before it is logged or kept */
  scrub?: (text: string) => string;
}

interface Entry<T> {
  item: T;
  alert: boolean;
  bytes: number;
  /** epoch ms it was first queued */
  at: number;
  attempts: number;
}

const PERMANENT_LOG_EVERY_MS = 60_000;
const ABORT_WAIT_MS = 1000;

/**
 * The buffer in front of one sink: batches by count, bytes and time; one request in flight at a
 * time; retries with backoff; bounded, alerts ahead of results. push() never blocks or throws.
 */
export class Outbox<T> {
  readonly name: string;
  private readonly alerts = new Deque<Entry<T>>();
  private readonly results = new Deque<Entry<T>>();
  private bytes = 0;
  private inFlight: Entry<T>[] | null = null;
  private inFlightDone: Promise<void> | null = null;
  private abort: AbortController | null = null;
  private timer: TimerHandle | null = null;
  private timerDue = Number.POSITIVE_INFINITY;
  private backoffUntil = 0;
  private failures = 0;
  private sentTotal = 0;
  private droppedTotal = 0;
  private lastError: string | null = null;
  private closing = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  private lastPermanentLogAt = Number.NEGATIVE_INFINITY;
  private permanentUnlogged = 0;
  private readonly log: Logger;
  private readonly scrub: (text: string) => string;

  constructor(
    private readonly sink: Sink<T>,
    private readonly opts: OutboxOptions,
    private readonly deps: OutboxDeps,
  ) {
    this.name = sink.name;
    this.log = deps.logger.child({ sink: sink.name });
    this.scrub = deps.scrub ?? ((t) => t);
  }

  push(item: T, priority: Priority): void {
    if (this.closed) {
      this.drop(1, 'closed');
      return;
    }
    let bytes: number;
    try {
      bytes = this.sink.sizeOf(item);
    } catch {
      bytes = 1024;
    }
    const e: Entry<T> = { item, alert: priority === 'alert', bytes, at: this.deps.clock.now(), attempts: 0 };
    (e.alert ? this.alerts : this.results).push(e);
    this.bytes += bytes;
    this.enforceBound();
    this.schedule();
  }

  stats(): SinkStats {
    return {
      sink: this.name,
      queued: this.queuedCount() + (this.inFlight?.length ?? 0),
      sent: this.sentTotal,
      dropped: this.droppedTotal,
      lastError: this.lastError,
    };
  }

  /** nothing queued and nothing in flight */
  isIdle(): boolean {
    return this.queuedCount() === 0 && !this.inFlight;
  }

  /**
   * Send what is buffered now (ignoring the flush interval, still honouring backoff), for at most
   * graceMs; then abort and count whatever is left as dropped.
   */
  async close(graceMs: number): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    this.schedule();
    if (!this.isIdle()) {
      let timer: TimerHandle | null = null;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => {
          timer = this.deps.clock.setTimeout(resolve, Math.max(0, graceMs));
        }),
      ]);
      if (timer) this.deps.clock.clearTimeout(timer);
    }
    this.closed = true;
    this.clearTimer();
    const left = this.queuedCount();
    while (this.alerts.shift() || this.results.shift()) {}
    this.bytes = 0;
    if (left > 0) {
      this.drop(left, 'shutdown');
      this.log.warn({ dropped: left }, 'sink closed with undelivered items');
    }
    if (this.inFlight && this.abort) {
      this.abort.abort();
      let timer: TimerHandle | null = null;
      await Promise.race([
        this.inFlightDone,
        new Promise<void>((resolve) => {
          timer = this.deps.clock.setTimeout(resolve, ABORT_WAIT_MS);
        }),
      ]);
      if (timer) this.deps.clock.clearTimeout(timer);
    }
    this.notifyIdle();
  }

  private queuedCount(): number {
    return this.alerts.length + this.results.length;
  }

  private enforceBound(): void {
    let evicted = 0;
    while (this.queuedCount() > this.opts.bufferSize) {
      const e = this.results.length > 0 ? this.results.shift() : this.alerts.shift();
      if (!e) break;
      this.bytes -= e.bytes;
      evicted++;
    }
    if (evicted > 0) this.drop(evicted, 'buffer full');
  }

  private schedule(): void {
    if (this.closed || this.inFlight) return;
    const queued = this.queuedCount();
    if (queued === 0) {
      this.clearTimer();
      this.notifyIdle();
      return;
    }
    const now = this.deps.clock.now();
    let due: number;
    if (now < this.backoffUntil) due = this.backoffUntil;
    else if (this.closing || queued >= this.sink.limits.maxItems || this.bytes >= this.sink.limits.maxBytes)
      due = now;
    else {
      const oldest = Math.min(
        this.alerts.peek()?.at ?? Number.POSITIVE_INFINITY,
        this.results.peek()?.at ?? Number.POSITIVE_INFINITY,
      );
      due = oldest + this.opts.flushIntervalMs;
    }
    if (due <= now) {
      this.clearTimer();
      this.sendNext();
      return;
    }
    if (this.timer && this.timerDue <= due) return;
    this.clearTimer();
    this.timerDue = due;
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = null;
      this.timerDue = Number.POSITIVE_INFINITY;
      this.schedule();
    }, due - now);
  }

  private clearTimer(): void {
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
    this.timerDue = Number.POSITIVE_INFINITY;
  }

  private notifyIdle(): void {
    if (!this.isIdle() && !this.closed) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private takeBatch(): Entry<T>[] {
    const { maxItems, maxBytes } = this.sink.limits;
    const batch: Entry<T>[] = [];
    let bytes = 0;
    for (const q of [this.alerts, this.results]) {
      while (batch.length < maxItems) {
        const e = q.peek();
        if (!e) break;
        if (batch.length > 0 && bytes + e.bytes > maxBytes) return batch;
        q.shift();
        this.bytes -= e.bytes;
        bytes += e.bytes;
        batch.push(e);
      }
    }
    return batch;
  }

  private sendNext(): void {
    const batch = this.takeBatch();
    if (batch.length === 0) return;
    const ac = new AbortController();
    this.inFlight = batch;
    this.abort = ac;
    const items = batch.map((e) => e.item);
    this.inFlightDone = Promise.resolve()
      .then(() => this.sink.send(items, ac.signal))
      .then(
        (report) => this.settle(batch, report, undefined),
        (err: unknown) => this.settle(batch, undefined, err ?? new Error('unknown')),
      )
      .catch((err: unknown) => {
        this.log.error({ err: this.scrub(String(err)) }, 'sink outbox bug');
      })
      .finally(() => {
        this.inFlight = null;
        this.abort = null;
        this.inFlightDone = null;
        this.schedule();
        this.notifyIdle();
      });
  }

  private settle(batch: Entry<T>[], report: SendReport | undefined, err: unknown): void {
    if (err !== undefined) {
      this.settleError(batch, err);
      return;
    }
    let sent = 0;
    const retry: Entry<T>[] = [];
    const dropped: Entry<T>[] = [];
    batch.forEach((e, i) => {
      const o = report ? (report.outcomes[i] ?? 'retry') : 'sent';
      if (o === 'sent') sent++;
      else if (o === 'drop') dropped.push(e);
      else retry.push(e);
    });
    if (sent > 0) {
      this.sentTotal += sent;
      this.deps.metrics.sinkSent.inc({ sink: this.name }, sent);
    }
    const reason = this.scrub(report?.error ?? 'rejected by destination');
    if (dropped.length > 0) this.permanentDrop(dropped.length, reason);
    if (retry.length === 0) {
      if (this.failures > 0 && !this.closed)
        this.log.info({ failedAttempts: this.failures }, 'sink recovered');
      this.failures = 0;
      if (dropped.length === 0) this.lastError = null;
      return;
    }
    const giveUp = this.requeueCounting(retry);
    if (giveUp > 0)
      this.permanentDrop(giveUp, `${reason} (gave up after ${this.opts.maxItemAttempts} attempts)`);
    this.retryLater(reason, report?.retryAfterMs);
  }

  private settleError(batch: Entry<T>[], err: unknown): void {
    const se = err instanceof SinkError ? err : null;
    const reason = this.scrub(
      se ? se.message : `unexpected: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300),
    );
    if (this.closed) {
      this.drop(batch.length, 'shutdown');
      return;
    }
    if (se && !se.retryable) {
      this.permanentDrop(batch.length, reason);
      return;
    }
    if (se) this.requeue(batch);
    else {
      const giveUp = this.requeueCounting(batch);
      if (giveUp > 0) this.permanentDrop(giveUp, reason);
    }
    this.retryLater(reason, se?.retryAfterMs);
  }

  private retryLater(reason: string, retryAfterMs: number | undefined): void {
    if (this.closed) {
      const left = this.queuedCount();
      if (left > 0) {
        while (this.alerts.shift() || this.results.shift()) {}
        this.bytes = 0;
        this.drop(left, 'shutdown');
      }
      return;
    }
    this.failures++;
    this.lastError = reason;
    const delay = backoffDelay(this.failures, this.opts.backoff, retryAfterMs, this.opts.random);
    this.backoffUntil = this.deps.clock.now() + delay;
    const fields = { error: reason, attempt: this.failures, retryInMs: delay, queued: this.queuedCount() };
    if (this.failures === 1) this.log.warn(fields, 'sink delivery failed, retrying');
    else this.log.debug(fields, 'sink delivery failed again');
  }

  /** puts entries back at the head of their queues, in their original order */
  private requeue(entries: Entry<T>[]): void {
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i]!;
      (e.alert ? this.alerts : this.results).unshift(e);
      this.bytes += e.bytes;
    }
    this.enforceBound();
  }

  /** requeue, counting an attempt per entry; returns how many reached maxItemAttempts and were dropped */
  private requeueCounting(entries: Entry<T>[]): number {
    const keep: Entry<T>[] = [];
    for (const e of entries) {
      e.attempts++;
      if (e.attempts < this.opts.maxItemAttempts) keep.push(e);
    }
    this.requeue(keep);
    return entries.length - keep.length;
  }

  private permanentDrop(count: number, reason: string): void {
    this.lastError = reason;
    this.drop(count, reason);
    const now = this.deps.clock.now();
    if (now - this.lastPermanentLogAt >= PERMANENT_LOG_EVERY_MS) {
      this.log.warn(
        { error: reason, dropped: count, droppedEarlierUnlogged: this.permanentUnlogged },
        'sink dropped items',
      );
      this.lastPermanentLogAt = now;
      this.permanentUnlogged = 0;
    } else this.permanentUnlogged += count;
  }

  private drop(count: number, reason: string): void {
    this.droppedTotal += count;
    this.deps.metrics.sinkDropped.inc({ sink: this.name }, count);
    try {
      this.deps.onDrop?.(this.name, count, reason);
    } catch {
      // a listener bug must not break delivery
    }
  }
}
