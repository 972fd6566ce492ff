import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';

export type StreamEventType =
  | 'result'
  | 'state'
  | 'ownership'
  | 'config'
  | 'cluster'
  | 'overload'
  | 'worker'
  | 'reset';

export interface EventStreamOptions {
  /** frames kept for resumption and slow clients [20000] */
  ringSize?: number;
  /** and at most this many bytes of them [8 MiB] */
  ringBytes?: number;
  /** the ring is kept this long after the last client left, so a reconnecting one resumes [60000 ms] */
  keepMs?: number;
  /** a client fell out of the ring: `n` events it will never get (a metric) */
  onDropped?(n: number): void;
  /** applied to every frame before it is kept (secret redaction) */
  redact?(text: string): string;
  now?: () => number;
}

interface Frame {
  seq: number;
  text: string;
}

interface Client {
  res: ServerResponse;
  /** last seq written to this client */
  cursor: number;
}

/**
 * Server-Sent Events with ids `<epoch>.<seq>`, resumable with `Last-Event-ID` from a bounded ring
 * of recent frames. Memory per client is O(1): a client whose socket is full is not written to,
 * it keeps a cursor into the ring and is pumped again on `drain`. A client that falls out of the
 * ring (or resumes from another process's epoch) gets one `reset` event with the count it missed
 * (it reloads the status document); the loss is counted, never buffered.
 */
export class EventStream {
  /** distinguishes this process's ids from a previous one's */
  readonly epoch = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  private readonly clients = new Set<Client>();
  private readonly ring: Array<Frame | undefined>;
  private head = 0;
  private count = 0;
  private bytes = 0;
  private seq = 0;
  private lastClientAt = Number.NEGATIVE_INFINITY;
  private readonly ringSize: number;
  private readonly ringBytes: number;
  private readonly keepMs: number;
  private readonly now: () => number;
  private readonly followers: Array<{ to: EventStream; map: (data: unknown) => unknown }> = [];
  private dropped = 0;

  constructor(private readonly opts: EventStreamOptions = {}) {
    this.ringSize = opts.ringSize ?? 20_000;
    this.ringBytes = opts.ringBytes ?? 8 * 1024 * 1024;
    this.keepMs = opts.keepMs ?? 60_000;
    if (!Number.isInteger(this.ringSize) || this.ringSize < 1)
      throw new RangeError(`ringSize must be an integer ≥ 1, got ${this.ringSize}`);
    if (!(this.ringBytes > 0)) throw new RangeError(`ringBytes must be > 0, got ${this.ringBytes}`);
    if (!(this.keepMs >= 0)) throw new RangeError(`keepMs must be ≥ 0, got ${this.keepMs}`);
    this.ring = new Array(this.ringSize);
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.clients.size;
  }

  /** events dropped for slow clients since start */
  get droppedTotal(): number {
    return this.dropped;
  }

  /** Bytes waiting in the most backed-up client's socket buffer (bounded by design; tests). */
  maxBuffered(): number {
    let max = 0;
    for (const c of this.clients) max = Math.max(max, c.res.writableLength);
    return max;
  }

  /** Whether anyone listens now (or did recently enough to resume). */
  get active(): boolean {
    return this.clients.size > 0 || this.now() - this.lastClientAt < this.keepMs;
  }

  /** Every event published here is also published on `to` (its payload through `map`). */
  forwardTo(to: EventStream, map: (data: unknown) => unknown = (d) => d): void {
    this.followers.push({ to, map });
  }

  attach(res: ServerResponse, lastEventId?: string | null): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': watcher event stream\nretry: 2000\n\n');
    const client: Client = { res, cursor: this.seq };
    const resume = this.parseId(lastEventId);
    if (resume !== null) {
      client.cursor = resume;
      if (resume < this.oldestSeq() - 1) this.reset(client);
    } else if (lastEventId) {
      // an id of another process (restarted worker): what it missed cannot be told
      this.writeReset(client, null);
    }
    this.clients.add(client);
    this.lastClientAt = this.now();
    this.pump(client);
    const ping = setInterval(() => {
      if (!res.writableNeedDrain) res.write(': ping\n\n');
    }, 15_000);
    ping.unref();
    res.on('drain', () => this.pump(client));
    res.on('close', () => {
      clearInterval(ping);
      this.clients.delete(client);
      this.lastClientAt = this.now();
    });
  }

  publish(type: StreamEventType, data: unknown): void {
    for (const f of this.followers) f.to.publish(type, f.map(data));
    // nobody to keep it for: only the id advances, so a late resume knows it missed something
    const seq = ++this.seq;
    if (!this.active) {
      while (this.count > 0) this.evict(); // keeps the ring contiguous in seq
      return;
    }
    let text = `id: ${this.epoch}.${seq}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
    if (this.opts.redact) text = this.opts.redact(text);
    this.keep({ seq, text });
    for (const c of this.clients) {
      if (c.cursor === seq - 1 && !c.res.writableNeedDrain) {
        c.res.write(text);
        c.cursor = seq;
      }
      // otherwise the client is behind: `drain` pumps it from the ring
    }
  }

  close(): void {
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }

  private keep(f: Frame): void {
    if (this.count === this.ringSize) this.evict();
    this.ring[(this.head + this.count) % this.ringSize] = f;
    this.count++;
    this.bytes += f.text.length;
    while (this.bytes > this.ringBytes && this.count > 1) this.evict();
  }

  private evict(): void {
    const f = this.ring[this.head];
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ringSize;
    this.count--;
    if (f) this.bytes -= f.text.length;
  }

  private oldestSeq(): number {
    return this.count === 0 ? this.seq + 1 : this.ring[this.head]!.seq;
  }

  private frameAt(seq: number): Frame | undefined {
    if (this.count === 0) return undefined;
    const i = seq - this.oldestSeq();
    if (i < 0 || i >= this.count) return undefined;
    return this.ring[(this.head + i) % this.ringSize];
  }

  private pump(c: Client): void {
    if (c.cursor < this.oldestSeq() - 1) this.reset(c);
    while (c.cursor < this.seq && !c.res.writableNeedDrain) {
      const f = this.frameAt(c.cursor + 1);
      if (!f) {
        this.reset(c);
        return;
      }
      c.res.write(f.text);
      c.cursor = f.seq;
    }
  }

  /**
   * The client missed frames that left the ring: tell it and count them. It continues from now,
   * not from the oldest kept frame: it reloads the status document, which is newer than any.
   */
  private reset(c: Client): void {
    const missed = this.seq - c.cursor;
    if (missed <= 0) return;
    this.dropped += missed;
    this.opts.onDropped?.(missed);
    c.cursor = this.seq;
    this.writeReset(c, missed);
  }

  private writeReset(c: Client, missed: number | null): void {
    c.res.write(`event: reset\ndata: ${JSON.stringify({ missed })}\n\n`);
  }

  private parseId(id: string | null | undefined): number | null {
    if (!id) return null;
    const dot = id.lastIndexOf('.');
    if (dot < 0 || id.slice(0, dot) !== this.epoch) return null;
    const n = Number(id.slice(dot + 1));
    return Number.isInteger(n) && n >= 0 && n <= this.seq ? n : null;
  }
}

/**
 * The two streams of a worker: `local` (its own events; what peers relay) forwards into
 * `cluster` (what browsers read) with `origin` set; losses of both counted in one metric.
 */
export function createEventStreams(opts: {
  selfId: string;
  redact?(text: string): string;
  dropped?(stream: 'local' | 'cluster', n: number): void;
}): { local: EventStream; cluster: EventStream } {
  const local = new EventStream({ redact: opts.redact, onDropped: (n) => opts.dropped?.('local', n) });
  const cluster = new EventStream({ redact: opts.redact, onDropped: (n) => opts.dropped?.('cluster', n) });
  local.forwardTo(cluster, (d) =>
    d && typeof d === 'object' ? { ...(d as object), origin: opts.selfId } : d,
  );
  return { local, cluster };
}
