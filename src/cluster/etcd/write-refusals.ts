/**
 * Whether etcd refuses this worker's writes (alarm NOSPACE, request too large, ...), whichever
 * piece hit it: the admin's reconcile, alert-state saves, the worker record, claims. Network
 * errors and lost compares are not refusals (writeRefusalOf). One episode per worker: it starts
 * with the first refused write and ends with the next write etcd accepts, so the `self` sinks hear
 * one `etcd_write_refused` and one `etcd_write_ok`, not one per write.
 */
import type { Clock } from '../../model/clock.js';
import type { Logger } from '../../model/logger.js';
import type { EtcdWriteState } from '../coordinator.js';
import { Emitter } from './context.js';
import { describeError, type WriteRefusal, writeRefusalOf } from './errors.js';

export interface WriteRefusalEvents {
  /** every refused write (watcher_etcd_write_errors_total{cause}) */
  counted: [cause: WriteRefusal['cause']];
  /** an episode started (refused: true) or ended (refused: false) */
  writes: [state: EtcdWriteState];
}

export class WriteRefusals {
  readonly events: Emitter<WriteRefusalEvents>;
  /** set while etcd refuses this worker's writes */
  state: EtcdWriteState | null = null;

  constructor(
    private readonly clock: Clock,
    log: Logger,
  ) {
    this.events = new Emitter(log);
  }

  /**
   * A write failed. Returns the refusal when etcd itself refused it (then counted, and an episode
   * starts if none runs), null for any other error.
   */
  failed(err: unknown, what: string): WriteRefusal | null {
    const refusal = writeRefusalOf(err);
    if (refusal) this.refused(refusal, describeError(err), what);
    return refusal;
  }

  /** A refusal the caller already recognised (the admin duties classify their own errors). */
  refused(refusal: WriteRefusal, error: string, what: string): void {
    this.events.emit('counted', refusal.cause);
    if (this.state) return;
    this.state = {
      refused: true,
      cause: refusal.cause,
      remedy: refusal.remedy,
      since: this.clock.now(),
      error,
      what,
    };
    this.events.emit('writes', this.state);
  }

  /** A write etcd accepted: the episode, if any, is over. */
  accepted(): void {
    if (!this.state) return;
    this.state = null;
    this.events.emit('writes', {
      refused: false,
      cause: null,
      remedy: null,
      since: null,
      error: null,
      what: null,
    });
  }
}
