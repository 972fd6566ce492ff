/**
 * The undici dispatchers a check runs on.
 *
 * - Fresh connection (default): every request carries `reset: true` (undici sends
 *   `connection: close` and never reuses the socket), on a Client that serves one check at a
 *   time. Idle Clients (no socket) are kept per origin and reused: creating a Client per check
 *   doubled the CPU cost of a fresh-connection check. The Client's connect function reads the
 *   ConnectContext of the check it currently serves (connect timeout, TLS verify, timings).
 * - Keep-alive (`keepalive: true`): one shared Agent per (tls_verify, connect timeout) in this
 *   thread; undici pools connections per origin inside it.
 * - Redirects: undici's redirect interceptor wrapped around either dispatch function.
 */
import tls from 'node:tls';
import { Agent, buildConnector, Client, type Dispatcher, interceptors } from 'undici';
import { type CertSummary, certOf } from '../net/cert.js';
import { type ConnectContext, type ConnectMarks, connectFresh } from './connector.js';

export type DispatchFn = Dispatcher['dispatch'];

const noop = (): void => {};

/** A Client lent to one check at a time; `ctx` is that check's connect context. */
interface Lease {
  origin: string;
  client: Client;
  ctx: ConnectContext | null;
}

const idle = new Map<string, Lease[]>();
let idleCount = 0;
/** Idle Clients kept per thread (they hold no socket, only memory). */
const MAX_IDLE = 4096;

function acquire(origin: string, ctx: ConnectContext): Lease {
  const list = idle.get(origin);
  let lease = list?.pop();
  if (lease !== undefined) {
    idleCount--;
    if (list!.length === 0) idle.delete(origin);
  } else {
    const l: Lease = { origin, client: null as unknown as Client, ctx: null };
    l.client = new Client(origin, {
      connect: (opts, cb) => connectFresh(l.ctx, opts, cb),
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    lease = l;
  }
  lease.ctx = ctx;
  return lease;
}

function release(lease: Lease): void {
  lease.ctx = null;
  if (idleCount >= MAX_IDLE || lease.client.destroyed || lease.client.closed) {
    lease.client.destroy().catch(noop);
    return;
  }
  let list = idle.get(lease.origin);
  if (list === undefined) {
    list = [];
    idle.set(lease.origin, list);
  }
  list.push(lease);
  idleCount++;
}

/** The fresh connections of one check (usually one origin; redirects may add more). */
export class FreshConnections {
  private readonly ctx: ConnectContext;
  private first: Lease | null = null;
  private more: Lease[] | null = null;
  readonly dispatch: DispatchFn;

  constructor(connectTimeoutMs: number, tlsVerify: boolean, wantCert = false) {
    this.ctx = { connectTimeoutMs, tlsVerify, marks: null, wantCert, cert: null };
    this.dispatch = (opts, handler) => this.leaseFor(String(opts.origin)).client.dispatch(opts, handler);
  }

  get marks(): ConnectMarks | null {
    return this.ctx.marks;
  }

  /** peer certificate of the first TLS connection, when asked for (wantCert) */
  get cert(): CertSummary | null {
    return this.ctx.cert;
  }

  private leaseFor(origin: string): Lease {
    if (this.first === null) {
      this.first = acquire(origin, this.ctx);
      return this.first;
    }
    if (this.first.origin === origin) return this.first;
    this.more ??= [];
    let l = this.more.find((x) => x.origin === origin);
    if (l === undefined) {
      l = acquire(origin, this.ctx);
      this.more.push(l);
    }
    return l;
  }

  /**
   * Ends the check's use of its Clients. After a complete response (`clean`) undici has already
   * closed the socket and the Clients go back to the idle lists; otherwise they are destroyed,
   * which closes any socket still open (timeout, body too large, ...).
   */
  end(clean: boolean): void {
    const leases = this.more === null ? [this.first] : [this.first, ...this.more];
    this.first = null;
    this.more = null;
    for (const l of leases) {
      if (l === null) continue;
      if (clean) {
        release(l);
      } else {
        l.ctx = null;
        l.client.destroy().catch(noop);
      }
    }
  }
}

/** Drops this thread's idle fresh-connection Clients (tests, shutdown). */
export function clearIdleClients(): void {
  for (const list of idle.values()) for (const l of list) l.client.destroy().catch(noop);
  idle.clear();
  idleCount = 0;
}

const keepAliveAgents = new Map<string, Agent>();
/** Peer certificate of the latest keep-alive TLS connection opened per `host:port` in this thread. */
const keepAliveCerts = new Map<string, CertSummary>();
const MAX_KEEPALIVE_CERTS = 4096;

/** The certificate of the keep-alive connection to `host:port` when it was opened. */
export function keepAliveCert(hostPort: string): CertSummary | null {
  return keepAliveCerts.get(hostPort) ?? null;
}

function certRecordingConnector(tlsVerify: boolean, connectTimeoutMs: number): buildConnector.connector {
  const base = buildConnector({ rejectUnauthorized: tlsVerify, timeout: connectTimeoutMs });
  return (opts, cb) =>
    base(opts, (err, socket) => {
      if (err === null && socket instanceof tls.TLSSocket) {
        const cert = certOf(socket);
        if (cert !== null) {
          if (keepAliveCerts.size >= MAX_KEEPALIVE_CERTS) keepAliveCerts.clear();
          keepAliveCerts.set(`${opts.hostname}:${opts.port || '443'}`, cert);
        }
      }
      // biome-ignore lint/suspicious/noExplicitAny: undici's callback is overloaded on err/socket
      (cb as any)(err, socket);
    });
}

export function keepAliveDispatch(tlsVerify: boolean, connectTimeoutMs: number): DispatchFn {
  const key = `${tlsVerify ? 1 : 0}:${connectTimeoutMs}`;
  let agent = keepAliveAgents.get(key);
  if (agent === undefined) {
    agent = new Agent({
      connect: certRecordingConnector(tlsVerify, connectTimeoutMs),
      headersTimeout: 0,
      bodyTimeout: 0,
      // Checks run every few seconds or more: keep idle sockets longer than undici's 4 s default
      // (a server's own Keep-Alive hint still wins).
      keepAliveTimeout: 30_000,
    });
    keepAliveAgents.set(key, agent);
  }
  const a = agent;
  return a.dispatch.bind(a);
}

/** Closes the shared keep-alive agents of this thread (tests, shutdown). */
export async function closeKeepAliveAgents(): Promise<void> {
  const agents = [...keepAliveAgents.values()];
  keepAliveAgents.clear();
  await Promise.allSettled(agents.map((a) => a.destroy()));
}

type Interceptor = (dispatch: DispatchFn) => DispatchFn;
const redirectInterceptors = new Map<number, Interceptor>();

export function withRedirects(dispatch: DispatchFn, maxRedirects: number): DispatchFn {
  let ic = redirectInterceptors.get(maxRedirects);
  if (ic === undefined) {
    ic = interceptors.redirect({ maxRedirections: maxRedirects }) as Interceptor;
    redirectInterceptors.set(maxRedirects, ic);
  }
  return ic(dispatch);
}
