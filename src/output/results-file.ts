import { close, open, write } from 'node:fs';
import { type Clock, systemClock, type TimerHandle } from '../model/clock.js';
import type { CheckResult } from '../model/result.js';

export interface ResultsFileOptions {
  clock?: Clock;
  /** lines waiting for the disk beyond this are dropped and counted [16 MiB] */
  maxBufferedBytes?: number;
  /** first retry after a write error, ms; doubles up to maxRetryMs [1000] */
  retryMs?: number;
  maxRetryMs?: number;
  /** lines not written (write errors, buffer full) */
  onDropped?(lines: number): void;
  /** the first write error of an episode */
  onFailing?(err: NodeJS.ErrnoException): void;
  /** writes succeed again; `dropped` lines were lost during the episode */
  onResumed?(dropped: number): void;
}

/**
 * `--results-file`: every result appended as one JSON line (a local audit trail). Lines queue in
 * memory up to a bound and are written by one loop, so checks never wait for the disk. A write
 * error (ENOSPC, EIO, a file removed under us) starts an episode: it is reported once, every line
 * until writes succeed again is dropped and counted, and the file is reopened (following a
 * replaced path) with backoff until a write goes through.
 */
export class ResultsFile {
  private readonly clock: Clock;
  private readonly maxBufferedBytes: number;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;
  private fd: number | null = null;
  private opening = false;
  private writing = false;
  private queue: string[] = [];
  private queuedBytes = 0;
  private dropped = 0;
  /** a write error not yet followed by a successful write */
  private episode: { err: NodeJS.ErrnoException; dropped: number } | null = null;
  /** false between a write error and the next reopen: lines are dropped */
  private accepting = true;
  private retryDelay: number;
  private retryTimer: TimerHandle | null = null;
  private closed = false;
  private idle: Array<() => void> = [];

  constructor(
    readonly path: string,
    private readonly opts: ResultsFileOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.maxBufferedBytes = opts.maxBufferedBytes ?? 16 * 1024 * 1024;
    this.retryMs = opts.retryMs ?? 1000;
    this.maxRetryMs = opts.maxRetryMs ?? 30_000;
    this.retryDelay = this.retryMs;
    this.reopen();
  }

  get droppedLines(): number {
    return this.dropped;
  }

  /** the write error of the current episode, null while writes succeed */
  get error(): NodeJS.ErrnoException | null {
    return this.episode?.err ?? null;
  }

  write(r: CheckResult): void {
    if (this.closed) return;
    if (!this.accepting || this.queuedBytes > this.maxBufferedBytes) {
      this.drop(1);
      return;
    }
    const line = `${JSON.stringify(r)}\n`;
    this.queue.push(line);
    this.queuedBytes += line.length;
    this.pump();
  }

  /** Write what is queued (one attempt), then close the file. */
  close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    return new Promise((resolve) => {
      const finish = (): void => {
        const fd = this.fd;
        this.fd = null;
        if (fd === null) {
          resolve();
          return;
        }
        close(fd, () => resolve());
      };
      if (!this.writing && !this.opening && this.queue.length === 0) {
        finish();
        return;
      }
      this.idle.push(finish);
    });
  }

  private drop(lines: number): void {
    if (lines <= 0) return;
    this.dropped += lines;
    if (this.episode) this.episode.dropped += lines;
    this.opts.onDropped?.(lines);
  }

  private reopen(): void {
    this.opening = true;
    open(this.path, 'a', (err, fd) => {
      this.opening = false;
      if (err) {
        this.fail(err, 0);
        return;
      }
      if (this.closed && this.queue.length === 0) {
        close(fd, () => {});
        this.settle();
        return;
      }
      this.fd = fd;
      this.pump();
    });
  }

  private pump(): void {
    if (this.writing || this.opening || this.fd === null) {
      this.settle();
      return;
    }
    if (this.queue.length === 0) {
      this.settle();
      return;
    }
    const lines = this.queue.length;
    const chunk = Buffer.from(this.queue.join(''));
    this.queue = [];
    this.queuedBytes = 0;
    this.writing = true;
    this.writeAll(chunk, 0, lines);
  }

  private writeAll(chunk: Buffer, offset: number, lines: number): void {
    write(this.fd as number, chunk, offset, chunk.length - offset, null, (err, n) => {
      if (err) {
        this.writing = false;
        this.fail(err, lines);
        return;
      }
      if (offset + n < chunk.length) {
        this.writeAll(chunk, offset + n, lines);
        return;
      }
      this.writing = false;
      const ep = this.episode;
      if (ep) {
        this.episode = null;
        this.retryDelay = this.retryMs;
        this.opts.onResumed?.(ep.dropped);
      }
      this.pump();
    });
  }

  private fail(err: NodeJS.ErrnoException, lostLines: number): void {
    const first = this.episode === null;
    if (first) this.episode = { err, dropped: 0 };
    this.accepting = false;
    this.drop(lostLines + this.queue.length);
    this.queue = [];
    this.queuedBytes = 0;
    if (first) this.opts.onFailing?.(err);
    if (this.episode) this.episode.err = err;
    const fd = this.fd;
    this.fd = null;
    if (fd !== null) close(fd, () => {});
    if (this.closed) {
      this.settle();
      return;
    }
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.maxRetryMs, this.retryDelay * 2);
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null;
      // Accept lines again; the first write after the reopen tells whether the disk has room.
      this.accepting = true;
      this.reopen();
    }, delay);
  }

  private settle(): void {
    if (this.writing || this.opening || (this.queue.length > 0 && this.fd !== null)) return;
    const waiters = this.idle;
    this.idle = [];
    for (const w of waiters) w();
  }
}
