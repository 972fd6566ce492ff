/**
 * Opens the socket of a tcp or tls check: TCP connect with the connect timeout, optionally a TLS
 * handshake (SNI, own CA file) made with rejectUnauthorized: false so that the peer certificate
 * is readable even when it fails verification (see verifyPeer). Phase marks come from socket
 * events. Settles once; abort (the check's deadline) destroys the socket.
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import type { TlsProbeOptions } from '../../model/endpoint.js';
import type { PhaseTimings } from '../../model/result.js';
import type { ConnectMarks } from '../http/connector.js';
import type { ProbeSignal } from '../probe.js';
import { CA_FILE_UNREADABLE, CheckAbort, CONNECT_CLOSED, CONNECT_TIMEOUT, TLS_CLOSED } from '../reasons.js';
import type { IdentityCapture } from './cert.js';

/** The same performance.now() marks as HTTP's fresh connections. */
export type SocketMarks = ConnectMarks;

export interface OpenOptions {
  host: string;
  port: number;
  connectTimeoutMs: number;
  /** null: plain TCP */
  tls: TlsProbeOptions | null;
  /** TLS: keeps the certificate Node reads for its name check (see cert.ts) */
  identity?: IdentityCapture;
}

/** `host:port` of a `tcp://` or `tls://` URL; IPv6 in brackets. */
export function hostPort(url: string): { host: string; port: number } | null {
  const m = /^[a-z]+:\/\/(\[[^\]]+\]|[^:/]+):(\d+)$/.exec(url);
  if (m === null) return null;
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return { host, port: Number(m[2]) };
}

const CA_TTL_MS = 60_000;
const contexts = new Map<string, { at: number; ctx: Promise<tls.SecureContext> }>();
let systemContext: tls.SecureContext | null = null;

/**
 * One SecureContext per CA file per thread, rebuilt at most once a minute (a renewed CA is picked
 * up without restart). tls.connect() without one builds a context per connection, which doubled
 * the CPU of a tls check (bench/README.md, "Probes").
 */
function secureContext(caFile: string | null): Promise<tls.SecureContext> {
  if (caFile === null) {
    systemContext ??= tls.createSecureContext();
    return Promise.resolve(systemContext);
  }
  const now = Date.now();
  let e = contexts.get(caFile);
  if (e === undefined || now - e.at > CA_TTL_MS) {
    if (contexts.size > 256) contexts.clear();
    e = { at: now, ctx: readFile(caFile).then((ca) => tls.createSecureContext({ ca })) };
    e.ctx.catch(() => contexts.delete(caFile));
    contexts.set(caFile, e);
  }
  return e.ctx;
}

export async function openSocket(
  o: OpenOptions,
  signal: ProbeSignal,
  marks: SocketMarks,
): Promise<net.Socket> {
  let ctx: tls.SecureContext | undefined;
  if (o.tls !== null) {
    try {
      ctx = await secureContext(o.tls.caFile);
    } catch {
      throw new CheckAbort(CA_FILE_UNREADABLE);
    }
  }
  if (signal.aborted) throw signal.reason;
  return new Promise<net.Socket>((resolve, reject) => {
    const t = o.tls;
    const socket: net.Socket =
      t === null
        ? net.connect({ host: o.host, port: o.port })
        : tls.connect({
            host: o.host,
            port: o.port,
            // SNI must not carry an IP address (RFC 6066).
            servername: t.serverName !== null && net.isIP(t.serverName) === 0 ? t.serverName : undefined,
            rejectUnauthorized: false,
            secureContext: ctx,
            ...(o.identity ? { checkServerIdentity: o.identity.check } : null),
          });
    let done = false;
    const settle = (err: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (err === null) {
        resolve(socket);
      } else {
        socket.destroy();
        reject(err);
      }
    };
    const onAbort = (): void => settle(signal.reason);
    const timer = setTimeout(() => settle(new CheckAbort(CONNECT_TIMEOUT)), o.connectTimeoutMs);
    signal.addEventListener('abort', onAbort);
    socket.setNoDelay(true);
    socket.once('lookup', () => {
      marks.lookupEnd = performance.now();
    });
    socket.once('connect', () => {
      marks.connectEnd = performance.now();
      if (t === null) settle(null);
    });
    if (t !== null) {
      socket.once('secureConnect', () => {
        marks.tlsEnd = performance.now();
        settle(null);
      });
    }
    socket.on('error', (err) => settle(err));
    // A peer that closes during the handshake may end the socket without an error.
    socket.once('close', () =>
      settle(new CheckAbort(marks.connectEnd === undefined ? CONNECT_CLOSED : TLS_CLOSED)),
    );
  });
}

export function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** Phase timings from socket marks; firstByteAt (performance.now) when a reply was read. */
export function socketTimings(m: SocketMarks, end: number, firstByte?: number): PhaseTimings {
  const t: PhaseTimings = { total: round(end - m.start) };
  if (m.lookupEnd !== undefined) t.dns = round(m.lookupEnd - m.start);
  if (m.connectEnd !== undefined) t.connect = round(m.connectEnd - (m.lookupEnd ?? m.start));
  if (m.tlsEnd !== undefined && m.connectEnd !== undefined) t.tls = round(m.tlsEnd - m.connectEnd);
  if (firstByte !== undefined) t.firstByte = round(firstByte);
  return t;
}
