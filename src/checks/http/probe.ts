/**
 * The HTTP(S) probe: one request through undici's dispatch API with a handler that counts (and,
 * when JSON is needed, keeps) at most maxBodyBytes of body, then evaluates the success rules.
 * The handler resolves exactly once; later undici callbacks are ignored.
 */
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import type { CheckSpec } from '../../model/endpoint.js';
import type { PhaseTimings } from '../../model/result.js';
import { type CertSummary, certValues, expiryDays } from '../net/cert.js';
import type { Probe, ProbeOutcome, ProbeSignal } from '../probe.js';
import { BODY_TOO_LARGE, CheckAbort, reasonOf, TOO_MANY_REDIRECTS } from '../reasons.js';
import { evaluate, needsCert, needsJson } from '../success.js';
import {
  type DispatchFn,
  FreshConnections,
  keepAliveCert,
  keepAliveDispatch,
  withRedirects,
} from './dispatchers.js';

export const USER_AGENT = 'watcher/0.1';
/** Sent with every check: the slot it serves. Lets a target (or a test) count checks per slot. */
export const SCHEDULED_AT_HEADER = 'x-watcher-scheduled-at';
const REDIRECT_CODES = new Set([300, 301, 302, 303, 307, 308]);

export const httpProbe: Probe = (spec, signal, ctx) =>
  new Promise<ProbeOutcome>((resolve) => {
    new HttpCheck(spec, signal, resolve, ctx?.scheduledAt ?? null).start();
  });

type Outcome = Pick<ProbeOutcome, 'ok' | 'status_code' | 'error' | 'values'>;

class HttpCheck implements Dispatcher.DispatchHandler {
  private readonly t0 = performance.now();
  private controller: Dispatcher.DispatchController | null = null;
  private fresh: FreshConnections | null = null;
  private requestAt = 0;
  private headersAt = 0;
  private status: number | null = null;
  private readonly chunks: Buffer[] | null;
  private bytes = 0;
  private settled = false;
  private target: Target | null = null;
  private readonly wantCert: boolean;

  constructor(
    private readonly spec: CheckSpec,
    private readonly signal: ProbeSignal,
    private readonly resolve: (o: ProbeOutcome) => void,
    private readonly scheduledAt: number | null,
  ) {
    this.chunks = needsJson(spec) ? [] : null;
    this.wantCert = needsCert(spec) && spec.url.startsWith('https:');
  }

  start(): void {
    const { spec, signal } = this;
    if (signal.aborted) {
      this.fail(reasonOf(signal.reason));
      return;
    }
    signal.addEventListener('abort', this.onAbort);
    const target = parseTarget(spec.url);
    if (target === null) {
      this.fail('invalid url');
      return;
    }
    this.target = target;

    let dispatch: DispatchFn;
    if (spec.keepalive) {
      dispatch = keepAliveDispatch(spec.tlsVerify, spec.connectTimeoutMs);
    } else {
      this.fresh = new FreshConnections(spec.connectTimeoutMs, spec.tlsVerify, this.wantCert);
      dispatch = this.fresh.dispatch;
    }
    if (spec.followRedirects && spec.maxRedirects > 0) dispatch = withRedirects(dispatch, spec.maxRedirects);
    try {
      dispatch(
        {
          origin: target.origin,
          path: target.path,
          method: spec.method.toUpperCase() as Dispatcher.HttpMethod,
          headers: requestHeaders(spec.headers, target.auth, this.scheduledAt),
          body: spec.body,
          reset: !spec.keepalive,
          headersTimeout: 0,
          bodyTimeout: 0,
        },
        this,
      );
    } catch (err) {
      this.fail(reasonOf(err));
    }
  }

  private readonly onAbort = (): void => {
    const reason = reasonOf(this.signal.reason);
    this.controller?.abort(new CheckAbort(reason));
    this.fail(reason);
  };

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.settled) {
      controller.abort(new CheckAbort('aborted'));
      return;
    }
    this.requestAt = performance.now();
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (this.settled) return;
    this.status = statusCode;
    this.headersAt = performance.now();
    // The redirect interceptor passes a redirect through only when it stopped following.
    if (this.spec.followRedirects && REDIRECT_CODES.has(statusCode) && headers.location !== undefined) {
      this.abortWith(controller, TOO_MANY_REDIRECTS);
      return;
    }
    const length = headers['content-length'];
    if (typeof length === 'string' && Number(length) > this.spec.maxBodyBytes) {
      this.abortWith(controller, BODY_TOO_LARGE);
      return;
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    this.bytes += chunk.length;
    if (this.bytes > this.spec.maxBodyBytes) {
      this.abortWith(controller, BODY_TOO_LARGE);
      return;
    }
    this.chunks?.push(chunk);
  }

  onResponseEnd(): void {
    if (this.settled) return;
    const chunks = this.chunks;
    let body: string | null = null;
    if (chunks !== null) {
      body =
        chunks.length === 1
          ? chunks[0]!.toString('utf8')
          : Buffer.concat(chunks, this.bytes).toString('utf8');
    }
    const cert = this.wantCert ? this.peerCert() : null;
    const now = Date.now();
    const ev = evaluate(
      this.spec,
      this.status ?? 0,
      body,
      performance.now() - this.t0,
      cert === null ? null : expiryDays(cert, now),
    );
    const values = cert === null ? ev.values : certValues(cert, now, ev.values);
    this.finish({ ok: ev.ok, status_code: this.status, error: ev.error, values }, true);
  }

  /** Fresh connection: this check's own; keep-alive: the pooled connection's, from when it opened. */
  private peerCert(): CertSummary | null {
    if (this.fresh !== null) return this.fresh.cert;
    return this.target === null ? null : keepAliveCert(this.target.certKey);
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    if (this.settled) return;
    this.fail(reasonOf(err));
  }

  private abortWith(controller: Dispatcher.DispatchController, reason: string): void {
    this.fail(reason);
    controller.abort(new CheckAbort(reason));
  }

  private fail(reason: string): void {
    this.finish({ ok: false, status_code: this.status, error: reason, values: {} });
  }

  private finish(o: Outcome, clean = false): void {
    if (this.settled) return;
    this.settled = true;
    this.signal.removeEventListener('abort', this.onAbort);
    this.fresh?.end(clean);
    const end = performance.now();
    this.resolve({
      ok: o.ok,
      status_code: o.status_code,
      error: o.error,
      values: o.values,
      duration_ms: round(end - this.t0),
      timings: this.timings(end),
    });
  }

  private timings(end: number): PhaseTimings {
    const t: PhaseTimings = { total: round(end - this.t0) };
    const m = this.fresh?.marks ?? null;
    if (m !== null) {
      if (m.lookupEnd !== undefined) t.dns = round(m.lookupEnd - m.start);
      if (m.connectEnd !== undefined) t.connect = round(m.connectEnd - (m.lookupEnd ?? m.start));
      if (m.tlsEnd !== undefined && m.connectEnd !== undefined) t.tls = round(m.tlsEnd - m.connectEnd);
    }
    if (this.headersAt > 0 && this.requestAt > 0) t.firstByte = round(this.headersAt - this.requestAt);
    return t;
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

interface Target {
  origin: string;
  path: string;
  /** `Basic ...` from user:password in the URL, or null */
  auth: string | null;
  /** `hostname:port` (port 443 when absent), the key of keepAliveCert */
  certKey: string;
}

const targets = new Map<string, Target | null>();
const TARGET_CACHE_LIMIT = 20_000;

/** Parsed URL, cached per URL string (parsing costs more than the rest of the request setup). */
function parseTarget(url: string): Target | null {
  let t = targets.get(url);
  if (t !== undefined) return t;
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    const auth =
      u.username !== ''
        ? `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`
        : null;
    t = {
      origin: u.origin,
      path: `${u.pathname}${u.search}`,
      auth,
      certKey: `${u.hostname}:${u.port || '443'}`,
    };
  } catch {
    t = null;
  }
  if (targets.size >= TARGET_CACHE_LIMIT) targets.clear();
  targets.set(url, t);
  return t;
}

function requestHeaders(
  headers: Record<string, string>,
  auth: string | null,
  scheduledAt: number | null,
): Record<string, string> {
  let hasUa = false;
  let hasAuth = false;
  for (const k in headers) {
    const l = k.length;
    if (l === 10 && k.toLowerCase() === 'user-agent') hasUa = true;
    else if (l === 13 && k.toLowerCase() === 'authorization') hasAuth = true;
  }
  const out: Record<string, string> = { ...headers };
  if (scheduledAt !== null) out[SCHEDULED_AT_HEADER] = String(scheduledAt);
  if (!hasUa) out['user-agent'] = USER_AGENT;
  if (auth !== null && !hasAuth) out.authorization = auth;
  return out;
}
