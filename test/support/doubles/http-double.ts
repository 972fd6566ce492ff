/**
 * A recording HTTP server on 127.0.0.1 (OS-chosen port) that the service doubles build on: it
 * decodes gzip/deflate bodies, records every request, and can be told to fail or hang for a while.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** body as received on the wire */
  raw: Buffer;
  /** body after Content-Encoding was undone */
  body: Buffer;
  /** Date.now() when the request was complete */
  at: number;
  /** status answered */
  status?: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export type Handler = (req: RecordedRequest) => Reply;

interface Fault {
  reply: Reply | 'hang';
  until: number;
  remaining: number;
  /** only requests this predicate selects (default: all) */
  match: (req: RecordedRequest) => boolean;
}

export interface FaultOptions {
  /** fail for this long from now, ms */
  forMs?: number;
  /** fail this many requests */
  count?: number;
  match?: (req: RecordedRequest) => boolean;
}

export class HttpDouble {
  readonly requests: RecordedRequest[] = [];
  /** answered with a fault (not passed to the handler) */
  readonly faulted: RecordedRequest[] = [];
  private readonly server = createServer((req, res) => this.onRequest(req, res));
  private readonly faults: Fault[] = [];
  private readonly hanging = new Set<ServerResponse>();
  private port = 0;

  constructor(private readonly handler: Handler) {}

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** answer `reply` instead of the handler's for a while (forMs) or for a number of requests (count) */
  fail(reply: Reply, opts: FaultOptions = {}): void {
    this.faults.push({
      reply,
      until: opts.forMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + opts.forMs,
      remaining: opts.count ?? Number.POSITIVE_INFINITY,
      match: opts.match ?? (() => true),
    });
  }

  /** never answer (until healed or closed) */
  hang(opts: FaultOptions = {}): void {
    this.faults.push({
      reply: 'hang',
      until: opts.forMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + opts.forMs,
      remaining: opts.count ?? Number.POSITIVE_INFINITY,
      match: opts.match ?? (() => true),
    });
  }

  /** remove every fault and release hanging requests with a 503 */
  heal(): void {
    this.faults.length = 0;
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
  }

  async close(): Promise<void> {
    this.heal();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const u = new URL(req.url ?? '/', 'http://double');
      const rec: RecordedRequest = {
        method: req.method ?? 'GET',
        path: u.pathname,
        query: Object.fromEntries(u.searchParams),
        headers: req.headers,
        raw,
        body: raw,
        at: Date.now(),
      };
      let reply: Reply;
      try {
        rec.body = decode(raw, req.headers['content-encoding']);
        const fault = this.takeFault(rec);
        if (fault === 'hang') {
          this.faulted.push(rec);
          this.hanging.add(res);
          res.on('close', () => this.hanging.delete(res));
          return;
        }
        if (fault) {
          this.faulted.push(rec);
          reply = fault;
        } else {
          this.requests.push(rec);
          reply = this.handler(rec);
        }
      } catch (err) {
        reply = { status: 400, body: JSON.stringify({ errors: [String(err)] }) };
        this.requests.push(rec);
      }
      rec.status = reply.status;
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body ?? '');
    });
  }

  private takeFault(rec: RecordedRequest): Reply | 'hang' | null {
    const now = Date.now();
    for (let i = 0; i < this.faults.length; i++) {
      const f = this.faults[i]!;
      if (f.until <= now || f.remaining <= 0) {
        this.faults.splice(i--, 1);
        continue;
      }
      if (!f.match(rec)) continue;
      f.remaining--;
      return f.reply;
    }
    return null;
  }
}

function decode(raw: Buffer, encoding: string | string[] | undefined): Buffer {
  const enc = (Array.isArray(encoding) ? encoding[0] : encoding)?.toLowerCase();
  if (!enc || enc === 'identity') return raw;
  if (enc === 'gzip') return gunzipSync(raw);
  if (enc === 'deflate') return inflateSync(raw);
  throw new Error(`unsupported content-encoding ${enc}`);
}

export function header(req: RecordedRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
