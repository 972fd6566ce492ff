/**
 * The tcp and tls probes. tls: handshake, chain and name verification, the leaf certificate in
 * the values. tcp: connect (optionally TLS), optionally send, optionally read until `expect`
 * matches (bounded), the peer closes, or the deadline fires.
 */
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import type tls from 'node:tls';
import type { CheckSpec, TcpExpect, TlsProbeOptions } from '../../model/endpoint.js';
import type { Probe, ProbeOutcome, ProbeSignal } from '../probe.js';
import { CheckAbort, EXPECT_CLOSED, EXPECT_NO_MATCH, reasonOf } from '../reasons.js';
import { cachedRegex, evaluateProbe } from '../success.js';
import {
  capturingIdentity,
  certValues,
  expiryDays,
  type IdentityCapture,
  peerCert,
  verifyPeer,
} from './cert.js';
import { hostPort, openSocket, round, type SocketMarks, socketTimings } from './connect.js';

/** Bytes read at most while matching `expect` (docs/CONFIG.md; the reason EXPECT_NO_MATCH names it). */
export const EXPECT_MAX_BYTES = 64 * 1024;
const MAX_GROUP_CHARS = 200;

interface Facts {
  error: string | null;
  values: Record<string, string>;
  certExpiryDays: number | null;
}

/** Certificate values and verification of an open TLS socket. */
function tlsFacts(socket: tls.TLSSocket, spec: CheckSpec, identity: IdentityCapture): Facts {
  const now = Date.now();
  const cert = peerCert(socket, identity);
  const values: Record<string, string> = cert === null ? {} : certValues(cert, now);
  const version = socket.getProtocol();
  if (version) values.tls_version = version;
  const error = spec.tlsVerify ? verifyPeer(socket) : null;
  return { error, values, certExpiryDays: cert === null ? null : expiryDays(cert, now) };
}

function outcome(
  ok: boolean,
  error: string | null,
  values: Record<string, string>,
  marks: SocketMarks,
  firstByte?: number,
): ProbeOutcome {
  const end = performance.now();
  return {
    ok,
    status_code: null,
    error: ok ? null : error,
    values,
    duration_ms: round(end - marks.start),
    timings: socketTimings(marks, end, firstByte),
  };
}

async function run(
  spec: CheckSpec,
  signal: ProbeSignal,
  t: TlsProbeOptions | null,
  then: Then,
): Promise<ProbeOutcome> {
  const marks: SocketMarks = { start: performance.now() };
  const target = hostPort(spec.url);
  if (target === null) throw new CheckAbort('invalid url');
  const identity = capturingIdentity();
  let socket: net.Socket;
  try {
    socket = await openSocket(
      { ...target, connectTimeoutMs: spec.connectTimeoutMs, tls: t, identity },
      signal,
      marks,
    );
  } catch (err) {
    return outcome(false, reasonOf(err), {}, marks);
  }
  try {
    let facts: Facts = { error: null, values: {}, certExpiryDays: null };
    if (t !== null) {
      facts = tlsFacts(socket as tls.TLSSocket, spec, identity);
      if (facts.error !== null) return outcome(false, facts.error, facts.values, marks);
    }
    const after = await then(socket, signal, facts.values);
    if (after.error !== null) return outcome(false, after.error, facts.values, marks, after.firstByte);
    const error = evaluateProbe(spec, {
      latencyMs: performance.now() - marks.start,
      certExpiryDays: facts.certExpiryDays,
      answers: null,
    });
    return outcome(error === null, error, facts.values, marks, after.firstByte);
  } finally {
    socket.destroy();
  }
}

/** What a probe does on the open socket; values collects captured groups. */
type Then = (
  socket: net.Socket,
  signal: ProbeSignal,
  values: Record<string, string>,
) => Promise<{ error: string | null; firstByte?: number }>;

const nothing: Then = () => Promise.resolve({ error: null });

export const tlsProbe: Probe = (spec, signal) => {
  if (spec.probe?.kind !== 'tls') throw new CheckAbort('invalid probe options');
  return run(spec, signal, spec.probe.tls, nothing);
};

export const tcpProbe: Probe = (spec, signal) => {
  const o = spec.probe;
  if (o?.kind !== 'tcp') throw new CheckAbort('invalid probe options');
  const then: Then =
    o.send === null && o.expect === null
      ? nothing
      : (socket, sig, values) => converse(socket, sig, o.send, o.expect, values);
  return run(spec, signal, o.tls, then);
};

/**
 * Sends `send` (without `expect`: until the kernel has it, so closing does not drop it), then
 * reads until `expect` matches; firstByte is measured from the send.
 */
function converse(
  socket: net.Socket,
  signal: ProbeSignal,
  send: string | null,
  expect: TcpExpect | null,
  values: Record<string, string>,
): Promise<{ error: string | null; firstByte?: number }> {
  return new Promise((resolve) => {
    const sentAt = performance.now();
    let acc: Buffer | null = null;
    let firstByte: number | undefined;
    let done = false;
    const finish = (error: string | null): void => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      resolve({ error, firstByte });
    };
    const re = expect?.kind === 'matches' ? cachedRegex(expect.pattern) : null;
    const matches = (): boolean => {
      const text = acc === null ? '' : acc.toString('utf8');
      if (expect?.kind === 'contains') return text.includes(expect.value);
      const m = re?.exec(text) ?? null;
      if (m === null) return false;
      for (const [k, v] of Object.entries(m.groups ?? {})) {
        if (v !== undefined) values[k] = v.length > MAX_GROUP_CHARS ? `${v.slice(0, MAX_GROUP_CHARS)}…` : v;
      }
      return true;
    };
    const onData = (chunk: Buffer): void => {
      firstByte ??= performance.now() - sentAt;
      acc = acc === null ? chunk : Buffer.concat([acc, chunk]);
      const over = acc.length >= EXPECT_MAX_BYTES;
      if (over) acc = acc.subarray(0, EXPECT_MAX_BYTES);
      if (matches()) finish(null);
      else if (over) finish(EXPECT_NO_MATCH);
    };
    const onEnd = (): void => finish(matches() ? null : EXPECT_CLOSED);
    const onError = (err: Error): void => finish(reasonOf(err));
    const onAbort = (): void => finish(reasonOf(signal.reason));
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort);
    socket.on('error', onError);
    if (expect === null) {
      socket.write(send ?? '', (err) => finish(err ? reasonOf(err) : null));
      return;
    }
    if (send !== null) socket.write(send);
    socket.on('data', onData);
    socket.once('end', onEnd);
  });
}
