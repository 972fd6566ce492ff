/**
 * The cluster event stream of one worker: while a client listens to its `/api/v1/events`, it
 * subscribes to every peer's `?scope=local` stream (addresses from the worker records) and
 * republishes their events, tagged with `origin`, next to its own; it also tells workers joining
 * and leaving. No client for `idleCloseMs`: every peer subscription is closed, so an unwatched
 * cluster carries no event traffic. A peer subscription resumes with `Last-Event-ID` after a cut.
 *
 * Bound at 100 workers: one SSE connection per peer per watched worker (not per browser), the
 * browser's own stream bounded by the EventStream ring.
 */
import { request } from 'undici';
import type { Logger } from '../model/logger.js';
import type { EventStream, StreamEventType } from './event-stream.js';

export interface PeerAddress {
  id: string;
  address: string;
}

export interface EventRelayOptions {
  selfId: string;
  token: string | null;
  /** the workers of the cluster as this worker's mirror holds them (self included or not) */
  peers(): PeerAddress[];
  /** the cluster stream the browser reads */
  into: EventStream;
  logger: Logger;
  /** membership and subscriptions re-checked this often [1000 ms] */
  intervalMs?: number;
  /** peer subscriptions closed after this long without a listener [10000 ms] */
  idleCloseMs?: number;
  /** wait before reconnecting a cut peer stream [1000 ms] */
  reconnectMs?: number;
  now?: () => number;
}

/** One SSE frame (the text between blank lines) as id, event name and data. */
export function parseSseFrame(text: string): { id: string | null; event: string; data: string } {
  let id: string | null = null;
  let event = 'message';
  let data = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('id: ')) id = line.slice(4);
    else if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  return { id, event, data };
}

const RELAYED = new Set<string>(['result', 'state', 'ownership', 'config', 'cluster', 'overload', 'reset']);

class PeerSubscription {
  private lastId: string | null = null;
  private closed = false;
  private abort = new AbortController();
  connected = false;

  constructor(
    readonly peer: PeerAddress,
    private readonly relay: EventRelay,
  ) {
    void this.loop();
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      try {
        await this.once();
      } catch (err) {
        if (this.closed) return;
        this.relay.peerError(this.peer, err as Error);
      }
      this.connected = false;
      if (this.closed) return;
      await new Promise((r) => setTimeout(r, this.relay.reconnectMs).unref());
    }
  }

  private async once(): Promise<void> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.relay.token) headers.authorization = `Bearer ${this.relay.token}`;
    if (this.lastId) headers['last-event-id'] = this.lastId;
    const res = await request(`http://${this.peer.address}/api/v1/events?scope=local`, {
      signal: this.abort.signal,
      headers,
      headersTimeout: 2000,
      // a healthy stream carries at least a ping every 15 s
      bodyTimeout: 40_000,
    });
    if (res.statusCode !== 200) {
      await res.body.dump().catch(() => {});
      throw new Error(`HTTP ${res.statusCode}`);
    }
    if (!this.connected) {
      this.connected = true;
      this.relay.peerConnected(this.peer);
    }
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body) {
      buf += decoder.decode(chunk as Buffer, { stream: true });
      let end = buf.indexOf('\n\n');
      while (end >= 0) {
        this.frame(buf.slice(0, end));
        buf = buf.slice(end + 2);
        end = buf.indexOf('\n\n');
      }
      if (buf.length > 4 * 1024 * 1024) throw new Error('peer event stream: frame over 4 MiB');
    }
  }

  private frame(text: string): void {
    const { id, event, data } = parseSseFrame(text);
    if (id) this.lastId = id;
    if (!data || !RELAYED.has(event)) return;
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      return;
    }
    this.relay.republish(event as StreamEventType, payload, this.peer.id);
  }
}

export class EventRelay {
  readonly token: string | null;
  readonly reconnectMs: number;
  private readonly intervalMs: number;
  private readonly idleCloseMs: number;
  private readonly now: () => number;
  private readonly subs = new Map<string, PeerSubscription>();
  /** workers seen at the last check; null = not watching (no membership events) */
  private members: Map<string, string> | null = null;
  private lastListenerAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  private readonly errorsLogged = new Map<string, number>();

  constructor(private readonly opts: EventRelayOptions) {
    this.token = opts.token;
    this.intervalMs = opts.intervalMs ?? 1000;
    this.idleCloseMs = opts.idleCloseMs ?? 10_000;
    this.reconnectMs = opts.reconnectMs ?? 1000;
    for (const [k, v] of Object.entries({
      intervalMs: this.intervalMs,
      idleCloseMs: this.idleCloseMs,
      reconnectMs: this.reconnectMs,
    })) {
      if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${k} must be > 0, got ${v}`);
    }
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    this.timer = setInterval(() => this.check(), this.intervalMs);
    this.timer.unref();
  }

  /** A client attached: subscribe at once rather than at the next check. */
  wake(): void {
    this.check();
  }

  /** Peers subscribed now (diagnostics and tests). */
  subscribed(): string[] {
    return [...this.subs.keys()].sort();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const s of this.subs.values()) s.close();
    this.subs.clear();
  }

  check(): void {
    const now = this.now();
    if (this.opts.into.size > 0) this.lastListenerAt = now;
    if (now - this.lastListenerAt > this.idleCloseMs) {
      for (const s of this.subs.values()) s.close();
      this.subs.clear();
      this.members = null;
      return;
    }
    const current = new Map(this.opts.peers().map((p) => [p.id, p.address]));
    if (this.members) {
      for (const [id, address] of current)
        if (!this.members.has(id)) this.opts.into.publish('worker', { change: 'joined', id, address });
      for (const [id, address] of this.members)
        if (!current.has(id)) this.opts.into.publish('worker', { change: 'left', id, address });
    }
    this.members = current;
    for (const [id, s] of this.subs) {
      if (current.get(id) !== s.peer.address) {
        s.close();
        this.subs.delete(id);
      }
    }
    for (const [id, address] of current) {
      if (id === this.opts.selfId || this.subs.has(id) || !address) continue;
      this.subs.set(id, new PeerSubscription({ id, address }, this));
    }
  }

  republish(type: StreamEventType, data: unknown, origin: string): void {
    const payload =
      data && typeof data === 'object' ? { ...(data as object), origin } : { value: data, origin };
    this.opts.into.publish(type, payload);
  }

  peerConnected(peer: PeerAddress): void {
    this.errorsLogged.delete(peer.id);
    // the browser may have read the status before this subscription existed: it re-reads it
    this.opts.into.publish('cluster', { relay: 'connected', worker: peer.id, origin: this.opts.selfId });
  }

  peerError(peer: PeerAddress, err: Error): void {
    const last = this.errorsLogged.get(peer.id) ?? Number.NEGATIVE_INFINITY;
    if (this.now() - last < 60_000) return;
    this.errorsLogged.set(peer.id, this.now());
    this.opts.logger.warn(
      { peer: peer.id, address: peer.address, err: err.message },
      'peer event stream failed; retrying',
    );
  }
}
