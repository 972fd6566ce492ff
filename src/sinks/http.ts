import { request } from 'undici';
import { SinkError } from './errors.js';
import type { ItemOutcome, SendReport } from './types.js';

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export interface HttpPost {
  url: string;
  headers: Record<string, string>;
  body: string | Buffer;
  signal: AbortSignal;
  timeoutMs: number;
}

/**
 * POST with a total timeout; resolves on 2xx, throws a SinkError otherwise: retryable for network
 * errors, timeouts, 408, 429 and 5xx (with the server's requested wait), permanent for other
 * statuses. Error text names the status and the response's first bytes, never the URL (its query
 * may hold an API key).
 */
export async function httpPost(p: HttpPost): Promise<{ status: number; body: string }> {
  const timeout = AbortSignal.timeout(p.timeoutMs);
  const signal = AbortSignal.any([p.signal, timeout]);
  let status: number;
  let headers: Record<string, string | string[] | undefined>;
  let body: string;
  try {
    const res = await request(p.url, {
      method: 'POST',
      headers: p.headers,
      body: p.body,
      signal,
      headersTimeout: p.timeoutMs,
      bodyTimeout: p.timeoutMs,
    });
    status = res.statusCode;
    headers = res.headers;
    body = await res.body.text();
  } catch (err) {
    if (p.signal.aborted) throw new SinkError('WATCHER_SINK_ABORTED', 'aborted', { retryable: true });
    if (timeout.aborted) throw new SinkError('WATCHER_SINK_TIMEOUT', 'timeout', { retryable: true });
    throw new SinkError('WATCHER_SINK_NETWORK', networkReason(err), { retryable: true });
  }
  if (status >= 200 && status < 300) return { status, body };
  const snippet = body.replace(/\s+/g, ' ').slice(0, 200);
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = retryAfterFromHeaders(headers, Date.now());
    throw new SinkError('WATCHER_SINK_UNAVAILABLE', `status ${status}`, {
      retryable: true,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  throw new SinkError('WATCHER_SINK_REJECTED', `status ${status}${snippet ? `: ${snippet}` : ''}`, {
    retryable: false,
  });
}

function header(h: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Datadog's `X-RateLimit-Reset` (seconds until the window resets) or the standard `Retry-After`
 * (seconds or an HTTP date), as ms from now. The longer of the two wins.
 */
export function retryAfterFromHeaders(
  h: Record<string, string | string[] | undefined>,
  nowMs: number,
): number | undefined {
  const waits: number[] = [];
  const reset = header(h, 'x-ratelimit-reset');
  if (reset !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(reset)) waits.push(Number(reset) * 1000);
  const ra = header(h, 'retry-after');
  if (ra !== undefined) {
    if (/^\s*\d+(\.\d+)?\s*$/.test(ra)) waits.push(Number(ra) * 1000);
    else {
      const t = Date.parse(ra);
      if (!Number.isNaN(t)) waits.push(Math.max(0, t - nowMs));
    }
  }
  return waits.length > 0 ? Math.max(...waits) : undefined;
}

function networkReason(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const code =
    typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : null;
  if (code?.startsWith('UND_ERR_') || !code)
    return `network ${code ?? (err instanceof Error ? err.name : 'error')}`;
  return `connect ${code}`;
}

/**
 * Sends items one request each, in order (destinations that take one object per request: events,
 * webhooks, alarms). A retryable failure stops the run: that item and the rest are retried later;
 * a permanent failure drops that item only.
 */
export async function sendEach<T>(
  batch: T[],
  one: (item: T) => Promise<unknown>,
): Promise<SendReport | undefined> {
  const outcomes: ItemOutcome[] = batch.map(() => 'retry');
  let error: string | undefined;
  let retryAfterMs: number | undefined;
  let failed = false;
  for (let i = 0; i < batch.length; i++) {
    try {
      await one(batch[i]!);
      outcomes[i] = 'sent';
    } catch (err) {
      failed = true;
      const se = err instanceof SinkError ? err : null;
      error = se ? se.message : 'unexpected error';
      if (se && !se.retryable) {
        outcomes[i] = 'drop';
        continue;
      }
      // a whole-destination problem: keep the rest for the next attempt
      if (i === 0 && se) throw se;
      retryAfterMs = se?.retryAfterMs;
      break;
    }
  }
  if (!failed) return undefined;
  return { outcomes, ...(error ? { error } : {}), ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
}
