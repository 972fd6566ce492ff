/**
 * Peer-observed death (docs/CLUSTER.md "Peer-observed death"): each worker holds one long-lived
 * `GET /healthz?watch=1` stream open to each of its ring successors (1–2 of the sorted live
 * worker ids). The stream's first line is the peer's identity; while it is open, that TCP
 * connection can only lead to the process that answered it. When the process dies, its kernel
 * closes the connection at once; the watcher then needs two refused connects in a row to the same
 * address (`confirmGapMs` apart) to report the death. Nothing else is evidence: a timeout or a
 * stalled stream (SIGSTOP, host loss, partition), a reset (a live Node at its fd limit accepts and
 * resets), or another identity on the port (restart, port reuse) leave the lease's TTL in charge.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import type { Clock, TimerHandle } from '../../model/clock.js';
import type { Logger } from '../../model/logger.js';
import type { HealthIdentity } from '../coordinator.js';

export interface PeerTarget {
  id: string;
  leaseId: string;
  startedAt: number;
  /** status server host:port */
  address: string;
}

export interface PeerDeath extends PeerTarget {
  /**
   * Wall time (epoch ms) by which the process was certainly dead: the moment its stream closed when
   * refusals followed at once, else the first refusal. No slot it dispatched is later.
   */
  deadBy: number;
  /**
   * Where the next owners catch up from: just after the last dispatch horizon the stream carried
   * (server/peer-streams.ts), when the drop dated the death; else `deadBy`.
   */
  catchUpFrom: number;
}

export interface PeerWatchTuning {
  /** successors watched on the ring of live worker ids */
  successors: number;
  /** between the two refused connects that make a death certain */
  confirmGapMs: number;
  /** refusals that start later than this after the stream closed prove death from the refusal only */
  quickMs: number;
  /** retry delay of a stream that could not be opened or verified */
  reopenMs: number;
  /** bound of one connect probe */
  connectTimeoutMs: number;
}

export const PEER_WATCH_DEFAULTS: PeerWatchTuning = {
  successors: 2,
  confirmGapMs: 30,
  quickMs: 100,
  reopenMs: 200,
  connectTimeoutMs: 500,
};

export interface PeerWatchOptions {
  self: string;
  onDeath(d: PeerDeath): void;
  clock: Clock;
  logger: Logger;
  tuning?: Partial<PeerWatchTuning>;
}

/** The peers a worker watches: its next `n` successors on the ring of sorted live ids. */
export function ringSuccessors<T extends { id: string }>(self: string, live: readonly T[], n: number): T[] {
  const sorted = [...live]
    .filter((w) => w.id !== self)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const after = sorted.findIndex((w) => w.id > self);
  const start = after < 0 ? 0 : after;
  const out: T[] = [];
  for (let i = 0; i < Math.min(n, sorted.length); i++) out.push(sorted[(start + i) % sorted.length]!);
  return out;
}

export function sameIdentity(t: PeerTarget, body: unknown): boolean {
  if (!body || typeof body !== 'object') return false;
  const b = body as Partial<HealthIdentity>;
  return b.id === t.id && b.lease_id === t.leaseId && b.started_at === t.startedAt;
}

/** A `{"h":<ms>}` line's horizon, else null. */
export function horizonOf(text: string): number | null {
  try {
    const h = (JSON.parse(text) as { h?: unknown } | null)?.h;
    return typeof h === 'number' && Number.isFinite(h) ? h : null;
  } catch {
    return null;
  }
}

type Probe = 'refused' | 'open' | 'other';

function splitAddress(address: string): { host: string; port: number } | null {
  const i = address.lastIndexOf(':');
  const port = Number(address.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0) return null;
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port };
}

/** One TCP connect: refused (nothing listens), open (something does), or anything else. */
function probe(host: string, port: number, timeoutMs: number): Promise<Probe> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (p: Probe) => {
      s.destroy();
      resolve(p);
    };
    s.setTimeout(timeoutMs, () => done('other'));
    s.once('connect', () => done('open'));
    s.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? 'refused' : 'other'));
  });
}

/** Watches one peer incarnation (id + lease + address) until closed. */
class PeerWatcher {
  private closed = false;
  private timer: TimerHandle | null = null;
  private stream: { destroy(): void } | null = null;
  /** the stream to this identity is open now */
  private verified = false;
  /** a verified stream dropped and the identity was not seen again since */
  private suspect = false;
  /** wall time the stream dropped, while nothing but refusals followed */
  private droppedAt: number | null = null;
  /** consecutive refusals while suspect, and when the first one came back */
  private refusals = 0;
  private firstRefusalAt = 0;
  /** the last dispatch horizon the verified stream carried */
  private horizon: number | null = null;

  constructor(
    readonly target: PeerTarget,
    private readonly where: { host: string; port: number },
    private readonly w: PeerWatch,
  ) {}

  start(): void {
    this.open();
  }

  close(): void {
    this.closed = true;
    if (this.timer) this.w.clock.clearTimeout(this.timer);
    this.timer = null;
    this.stream?.destroy();
    this.stream = null;
  }

  private later(ms: number, fn: () => void): void {
    if (this.closed) return;
    if (this.timer) this.w.clock.clearTimeout(this.timer);
    this.timer = this.w.clock.setTimeout(() => {
      this.timer = null;
      if (!this.closed) fn();
    }, ms);
  }

  /** Anything but a refusal: the run of refusals (and the drop time) no longer stands. */
  private notRefused(): void {
    this.refusals = 0;
    this.droppedAt = null;
  }

  /** Opens the identity stream; a drop of a verified stream starts the refusal check. */
  private open(): void {
    let line = '';
    let settled = false;
    // after the identity: `{"h":<ms>}` lines, the peer's dispatch horizon (a partial line waits)
    const readHorizons = () => {
      let nl = line.indexOf('\n');
      while (nl >= 0) {
        const h = horizonOf(line.slice(0, nl));
        if (h !== null) this.horizon = h;
        line = line.slice(nl + 1);
        nl = line.indexOf('\n');
      }
      if (line.length > 4096) line = '';
    };
    const req = request({
      host: this.where.host,
      port: this.where.port,
      path: '/healthz?watch=1',
      agent: false,
      headers: { accept: 'application/x-ndjson' },
    });
    this.stream = req;
    const ended = (refused: boolean) => {
      if (settled || this.closed) return;
      settled = true;
      this.stream = null;
      if (this.verified) {
        this.verified = false;
        this.suspect = true;
        this.droppedAt = this.w.clock.now();
        this.refusals = 0;
        this.check();
      } else if (refused && this.suspect) {
        this.noteRefusal();
      } else {
        if (this.suspect) this.notRefused();
        this.later(this.w.tuning.reopenMs, () => this.open());
      }
    };
    // only until the identity arrived: an open, silent stream is normal (a pause is no evidence)
    req.setTimeout(this.w.tuning.connectTimeoutMs, () => {
      if (!this.verified) req.destroy();
    });
    req.on('error', (err: NodeJS.ErrnoException) => ended(err.code === 'ECONNREFUSED'));
    req.on('response', (res) => {
      res.on('close', () => ended(false));
      if (res.statusCode !== 200) {
        req.destroy();
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        line += chunk;
        if (this.verified) {
          readHorizons();
          return;
        }
        const nl = line.indexOf('\n');
        if (nl < 0) {
          if (line.length > 4096) req.destroy();
          return;
        }
        let body: unknown = null;
        try {
          body = JSON.parse(line.slice(0, nl));
        } catch {
          // not a watcher's identity line
        }
        if (sameIdentity(this.target, body)) {
          this.verified = true;
          this.suspect = false;
          this.horizon = null;
          this.notRefused();
          req.setTimeout(0);
          line = line.slice(nl + 1);
          readHorizons();
        } else {
          // another process or incarnation on this port: never evidence
          this.suspect = false;
          req.destroy();
        }
      });
    });
    req.end();
  }

  /** While suspect: connect until two refusals in a row, or anything else happens. */
  private check(): void {
    void probe(this.where.host, this.where.port, this.w.tuning.connectTimeoutMs).then((p) => {
      if (this.closed) return;
      if (p === 'refused') {
        this.noteRefusal();
        return;
      }
      // Something accepts. A killed process closes its sockets in descriptor order, so its
      // listener may still take connections for a moment after the stream dropped: look again
      // soon while the drop is recent, then look at the identity again.
      const dropped = this.droppedAt;
      if (this.refusals === 0 && dropped !== null && this.w.clock.now() - dropped < this.w.tuning.quickMs) {
        this.later(this.w.tuning.confirmGapMs, () => this.check());
        return;
      }
      this.notRefused();
      this.later(this.w.tuning.reopenMs, () => this.open());
    });
  }

  private noteRefusal(): void {
    const now = this.w.clock.now();
    if (this.refusals === 0) this.firstRefusalAt = now;
    this.refusals++;
    if (this.refusals < 2) {
      this.later(this.w.tuning.confirmGapMs, () => this.check());
      return;
    }
    // the kernel closed the stream when the process died: a drop followed at once by refusals
    // dates the death; otherwise only the first refusal is sure to be after it
    const dropped = this.droppedAt;
    const quick = dropped !== null && this.firstRefusalAt - dropped <= this.w.tuning.quickMs;
    const deadBy = quick ? dropped : this.firstRefusalAt;
    // the stream closed with the process: it carried every horizon the process dispatched to
    const catchUpFrom =
      quick && this.horizon !== null ? Math.min(deadBy, Math.floor(this.horizon) + 1) : deadBy;
    this.close();
    this.w.reportDeath(this, deadBy, catchUpFrom, { quick, horizon: this.horizon });
  }
}

/** The ring of watched successors, kept in line with the mirror's live workers by `update()`. */
export class PeerWatch {
  readonly tuning: PeerWatchTuning;
  readonly clock: Clock;
  private readonly watchers = new Map<string, PeerWatcher>();
  private stopped = false;

  constructor(private readonly opts: PeerWatchOptions) {
    this.tuning = { ...PEER_WATCH_DEFAULTS, ...opts.tuning };
    this.clock = opts.clock;
  }

  /** Sets the live workers (from the mirror); starts and stops watchers to match the ring. */
  update(live: readonly PeerTarget[]): void {
    if (this.stopped) return;
    const want = new Map<string, PeerTarget>();
    for (const t of ringSuccessors(this.opts.self, live, this.tuning.successors))
      want.set(`${t.id}/${t.leaseId}/${t.address}`, t);
    for (const [k, w] of this.watchers) {
      if (!want.has(k)) {
        w.close();
        this.watchers.delete(k);
      }
    }
    for (const [k, t] of want) {
      if (this.watchers.has(k)) continue;
      const where = splitAddress(t.address);
      if (!where) continue;
      const w = new PeerWatcher(t, where, this);
      this.watchers.set(k, w);
      w.start();
    }
  }

  /** Ids watched now (diagnostics and tests). */
  watching(): string[] {
    return [...this.watchers.values()].map((w) => w.target.id).sort();
  }

  reportDeath(w: PeerWatcher, deadBy: number, catchUpFrom: number, why: Record<string, unknown>): void {
    if (this.stopped) return;
    const t = w.target;
    this.opts.logger.info(
      { peer: t.id, lease: t.leaseId, address: t.address, deadBy, catchUpFrom, ...why },
      'peer process gone (its stream dropped and its port refuses connections)',
    );
    this.opts.onDeath({ ...t, deadBy, catchUpFrom });
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}
