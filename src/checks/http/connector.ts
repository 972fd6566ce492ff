/**
 * Connect function for fresh-connection checks: opens one TCP/TLS socket with the connect
 * timeout and TLS setting of the check it serves, and timestamps its phases (DNS lookup, TCP
 * connect, TLS handshake) with socket events. Replaces undici's buildConnector so that these
 * settings are per check, not per dispatcher.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import type { buildConnector } from 'undici';
import { type CertSummary, capturingIdentity, peerCert } from '../net/cert.js';
import { CheckAbort, CONNECT_TIMEOUT } from '../reasons.js';

/** performance.now() marks; phases that did not happen stay undefined. */
export interface ConnectMarks {
  start: number;
  lookupEnd?: number;
  connectEnd?: number;
  tlsEnd?: number;
}

/** What the check being served wants from its connections. */
export interface ConnectContext {
  connectTimeoutMs: number;
  tlsVerify: boolean;
  /** marks of the first connection of the check (later ones, e.g. redirect hops, are not timed) */
  marks: ConnectMarks | null;
  /** read the peer certificate of the first TLS connection into `cert` (a cert_expiry_days test) */
  wantCert: boolean;
  cert: CertSummary | null;
}

const NO_CAPTURE = capturingIdentity();

const DEFAULT_CONTEXT: ConnectContext = {
  connectTimeoutMs: 10_000,
  tlsVerify: true,
  marks: null,
  wantCert: false,
  cert: null,
};

export function connectFresh(
  ctx: ConnectContext | null,
  opts: buildConnector.Options,
  callback: buildConnector.Callback,
): void {
  const c = ctx ?? DEFAULT_CONTEXT;
  const marks: ConnectMarks = { start: performance.now() };
  // Handed over now and filled in as events arrive, so a failed handshake keeps its phases.
  if (ctx !== null && ctx.marks === null) ctx.marks = marks;
  const isTls = opts.protocol === 'https:';
  const host = opts.hostname;
  const port = Number(opts.port) || (isTls ? 443 : 80);
  let socket: net.Socket;
  const identity = c.wantCert ? capturingIdentity() : NO_CAPTURE;
  if (isTls) {
    socket = tls.connect({
      host,
      port,
      // SNI must not carry an IP address (RFC 6066).
      servername: net.isIP(host) ? undefined : (opts.servername ?? host),
      rejectUnauthorized: c.tlsVerify,
      ALPNProtocols: ['http/1.1'],
      // Not `checkServerIdentity: undefined`: tls.connect would call undefined.
      ...(c.wantCert ? { checkServerIdentity: identity.check } : null),
    });
  } else {
    socket = net.connect({ host, port });
  }
  let cb: buildConnector.Callback | null = callback;
  const timer = setTimeout(() => {
    const done = cb;
    cb = null;
    socket.destroy();
    done?.(new CheckAbort(CONNECT_TIMEOUT), null);
  }, c.connectTimeoutMs);
  const ready = (): void => {
    clearTimeout(timer);
    const done = cb;
    cb = null;
    done?.(null, socket);
  };
  socket.setNoDelay(true);
  socket.once('lookup', () => {
    marks.lookupEnd = performance.now();
  });
  socket.once('connect', () => {
    marks.connectEnd = performance.now();
    if (!isTls) ready();
  });
  if (isTls) {
    socket.once('secureConnect', () => {
      marks.tlsEnd = performance.now();
      if (c.wantCert && c.cert === null) c.cert = peerCert(socket as tls.TLSSocket, identity);
      ready();
    });
  }
  socket.on('error', (err) => {
    clearTimeout(timer);
    const done = cb;
    cb = null;
    done?.(err, null);
  });
}
