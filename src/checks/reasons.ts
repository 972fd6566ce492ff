/**
 * Turns whatever a probe ran into (Node errno errors, undici errors, TLS errors, our own aborts)
 * into a short, stable reason string. Reasons never contain URLs, headers or body content.
 */

/** An abort we caused ourselves; its reason is already final (`timeout`, `body too large`, ...). */
export class CheckAbort extends Error {
  readonly code = 'WATCHER_CHECK_ABORT';
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'CheckAbort';
  }
}

export const TIMEOUT = 'timeout';
export const CONNECT_TIMEOUT = 'connect timeout';
export const BODY_TOO_LARGE = 'body too large';
export const TOO_MANY_REDIRECTS = 'too many redirects';
export const CONNECTION_RESET = 'connection reset';
/**
 * Reasons of checks the worker itself could not carry out start with `local: `. Such a result says
 * nothing about the target: it never moves an alert state (engine), is not sent to result sinks and
 * is counted in `watcher_checks_local_errors_total{code}`.
 */
export const LOCAL_PREFIX = 'local: ';
export const THREAD_DIED = `${LOCAL_PREFIX}worker thread died`;
export const SHUTDOWN = `${LOCAL_PREFIX}shutdown`;
export const RESULT_LOST = `${LOCAL_PREFIX}result lost`;

/**
 * errno codes that mean this host ran out of something (descriptors, buffers, memory, ephemeral
 * ports), not that the target failed.
 */
export const LOCAL_ERRNO: ReadonlySet<string> = new Set([
  'EMFILE',
  'ENFILE',
  'ENOBUFS',
  'ENOMEM',
  'EADDRNOTAVAIL',
]);

/** True for a reason produced by a local fault (see LOCAL_PREFIX). */
export function isLocalReason(reason: string | null | undefined): boolean {
  return reason?.startsWith(LOCAL_PREFIX) === true;
}

/** The metric label of a local reason: the errno code, or the rest of the reason with `_` for spaces. */
export function localCodeOf(reason: string): string {
  return reason.slice(LOCAL_PREFIX.length).replace(/\s+/g, '_');
}

const TLS_CODE = /CERT|SSL|TLS|SIGNED|ISSUER|VERIFY|HOSTNAME_MISMATCH/;

interface ErrorLike {
  code?: unknown;
  syscall?: unknown;
  message?: unknown;
  library?: unknown;
  errors?: unknown;
  cause?: unknown;
}

export function reasonOf(err: unknown): string {
  if (err instanceof CheckAbort) return err.reason;
  if (typeof err !== 'object' || err === null) return 'error';
  const e = err as ErrorLike & { name?: unknown };
  if (e.name === 'TimeoutError') return TIMEOUT;
  if (e.name === 'AbortError') return 'aborted';
  let code = typeof e.code === 'string' ? e.code : undefined;
  let syscall = e.syscall;
  // Happy eyeballs (autoSelectFamily) reports an AggregateError of the per-address attempts.
  if (Array.isArray(e.errors) && e.errors.length > 0) {
    const first = e.errors[0] as ErrorLike;
    code ??= typeof first.code === 'string' ? first.code : undefined;
    syscall ??= first.syscall;
  }
  if (code !== undefined && LOCAL_ERRNO.has(code)) return `${LOCAL_PREFIX}${code}`;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return CONNECT_TIMEOUT;
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return TIMEOUT;
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return CONNECTION_RESET;
    case 'UND_ERR_HEADERS_OVERFLOW':
      return 'headers too large';
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return 'body length mismatch';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NODATA':
      return `dns ${code}`;
  }
  if (code !== undefined) {
    if (syscall === 'getaddrinfo') return `dns ${code}`;
    if (code === 'ETIMEDOUT' && syscall === 'connect') return CONNECT_TIMEOUT;
    if (syscall === 'connect') return `connect ${code}`;
    if (code.startsWith('HPE_')) return `http: ${code}`;
    if (TLS_CODE.test(code) || e.library === 'SSL routines') return `tls: ${code}`;
  }
  const message = typeof e.message === 'string' ? e.message : '';
  if (message.startsWith('Redirect loop detected') || message === 'max redirects') return TOO_MANY_REDIRECTS;
  if (code !== undefined) return `error ${code}`;
  return `error: ${shortMessage(message)}`;
}

/** First 60 characters of a message, URLs removed, lower-case start. */
export function shortMessage(message: string): string {
  const s = message
    .replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>')
    .replace(/\s+/g, ' ')
    .trim();
  const cut = s.length > 60 ? `${s.slice(0, 60)}…` : s;
  return cut.length > 0 ? cut[0]!.toLowerCase() + cut.slice(1) : 'unknown';
}

/** `json: <short reason>` from a JSON.parse error, without echoing body content. */
export function jsonReason(err: unknown, text: string): string {
  if (text.trim().length === 0) return 'json: empty body';
  const m = err instanceof Error ? err.message : '';
  if (m.includes('Unexpected end of JSON input')) return 'json: unexpected end of input';
  if (m.includes('Unexpected non-whitespace')) return 'json: trailing data';
  if (m.includes('Unexpected token')) return 'json: unexpected token';
  if (m.includes('Bad control character')) return 'json: bad control character';
  if (m.includes('Unterminated string')) return 'json: unterminated string';
  if (m.includes('Bad escaped character') || m.includes('Bad Unicode escape')) return 'json: bad escape';
  if (m.includes('Expected')) return 'json: unexpected token';
  return 'json: invalid';
}
