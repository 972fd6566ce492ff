/**
 * One watch on a key range over a raw gRPC watch stream. Replaces the etcd3 package's watch
 * manager, whose errors can escape as uncaught exceptions and whose reconnects back off up to 30 s.
 *
 * The watch never repairs itself: on any problem (stream error or end, compaction, cancel, no
 * 'created' answer in time) it reports `onBroken` exactly once and stops; the owner re-lists and
 * starts a new watch from the listed revision. No error ever escapes as an exception.
 */
import type { IWatchResponse } from 'etcd3';
import type { Clock, TimerHandle } from '../../model/clock.js';
import { type EtcdRpc, type WatchEvent, watchEvents } from './client.js';
import { describeError } from './errors.js';

export interface WatchHandlers {
  /**
   * events in revision order; `rev` = the highest revision the watch has now delivered (events
   * only: a progress answer comes as no events and the same `rev`)
   */
  onEvents(events: WatchEvent[], rev: number): void;
  onBroken(reason: string): void;
}

type Stream = Awaited<ReturnType<EtcdRpc['openWatchStream']>>;

export class RangeWatch {
  private stream: Stream | null = null;
  private closed = false;
  private broken = false;
  private createdTimer: TimerHandle | null = null;
  private progressTimer: TimerHandle | null = null;
  private lastDataAt = 0;
  /** highest modRevision delivered (start revision - 1 before any event) */
  private delivered = 0;

  /**
   * @param progressEveryMs a progress request is sent this often once created; a stream that
   *   answers nothing for 2 × this long (a frozen or isolated member) counts as broken
   */
  constructor(
    private readonly rpc: EtcdRpc,
    private readonly clock: Clock,
    private readonly handlers: WatchHandlers,
    private readonly createTimeoutMs = 3000,
    private readonly progressEveryMs = 5000,
  ) {}

  /** Starts watching [start, end) from `fromRev` (inclusive). */
  start(start: string, end: Buffer, fromRev: number): void {
    this.delivered = fromRev - 1;
    this.createdTimer = this.clock.setTimeout(
      () => this.fail('watch not created in time'),
      this.createTimeoutMs,
    );
    this.rpc.openWatchStream().then(
      (stream) => {
        if (this.closed || this.broken) {
          quietEnd(stream);
          return;
        }
        this.stream = stream;
        stream.on('data', (res: IWatchResponse) => this.onData(res));
        stream.on('error', (err: Error) => this.fail(`watch stream error: ${describeError(err)}`));
        stream.on('end', () => this.fail('watch stream ended'));
        try {
          stream.write({
            create_request: {
              key: Buffer.from(start),
              range_end: end,
              start_revision: fromRev,
              progress_notify: true,
            },
          });
        } catch (err) {
          this.fail(`watch create failed: ${describeError(err)}`);
        }
      },
      (err: unknown) => this.fail(`watch open failed: ${describeError(err)}`),
    );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearCreated();
    this.clearProgress();
    const s = this.stream;
    this.stream = null;
    if (s) quietEnd(s);
  }

  private onData(res: IWatchResponse): void {
    if (this.closed || this.broken) return;
    this.lastDataAt = this.clock.now();
    if (res.created) {
      this.clearCreated();
      this.scheduleProgress();
    }
    if (res.canceled) {
      const compacted = Number(res.compact_revision ?? 0);
      this.fail(
        compacted > 0
          ? `watch compacted at ${compacted}`
          : `watch canceled: ${res.cancel_reason || 'no reason'}`,
      );
      return;
    }
    const events = watchEvents(res);
    if (events.length === 0 && res.created) return;
    // A progress answer only proves the stream alive. Its revision is not a delivered one: etcd
    // before the fix of etcd-io/etcd#15220 (3.4.23 here) answers a progress request with the
    // store's revision even while events up to it are still queued for this watch, so that
    // revision can run ahead of events still to come (test/cluster/etcd-watch.test.ts).
    for (const e of events) this.delivered = Math.max(this.delivered, e.kv.modRev);
    try {
      this.handlers.onEvents(events, this.delivered);
    } catch (err) {
      this.fail(`watch handler failed: ${describeError(err)}`);
    }
  }

  /** Liveness: etcd answers a progress request (3.4+); a stream that stops answering is broken. */
  private scheduleProgress(): void {
    this.progressTimer = this.clock.setTimeout(() => {
      this.progressTimer = null;
      if (this.closed || this.broken || !this.stream) return;
      if (this.clock.now() - this.lastDataAt > 2 * this.progressEveryMs) {
        this.fail('watch stream silent (no answer to progress requests)');
        return;
      }
      try {
        this.stream.write({ progress_request: {} });
      } catch (err) {
        this.fail(`watch progress request failed: ${describeError(err)}`);
        return;
      }
      this.scheduleProgress();
    }, this.progressEveryMs);
  }

  private clearProgress(): void {
    if (this.progressTimer) this.clock.clearTimeout(this.progressTimer);
    this.progressTimer = null;
  }

  /** @param memberFault the member (or the path to it) misbehaved: prefer another one next time */
  private fail(reason: string, memberFault = true): void {
    if (this.closed || this.broken) return;
    this.broken = true;
    if (memberFault) this.rpc.reportWatchFailure();
    this.clearCreated();
    this.clearProgress();
    const s = this.stream;
    this.stream = null;
    if (s) quietEnd(s);
    try {
      this.handlers.onBroken(reason);
    } catch {
      // the owner's handler must not throw; never let it escape a stream callback
    }
  }

  private clearCreated(): void {
    if (this.createdTimer) this.clock.clearTimeout(this.createdTimer);
    this.createdTimer = null;
  }
}

function quietEnd(s: Stream): void {
  // Later 'error' events (CANCELLED) must find a listener, or the process would crash.
  s.on('error', () => {});
  try {
    s.end();
  } catch {
    // already ended
  }
  try {
    s.cancel();
  } catch {
    // already cancelled
  }
}
