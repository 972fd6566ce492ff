import type { Logger } from '../model/logger.js';

const MASK = '[redacted]';
/** shorter values are not treated as secrets: masking `1` or `ok` everywhere would garble logs */
const MIN_SECRET_LENGTH = 4;

/** A growing set of secret strings (API keys, AWS secrets, URL key values) and a scrubber for text. */
export class SecretSet {
  private secrets: string[] = [];

  add(value: string | null | undefined): void {
    if (!value || value.length < MIN_SECRET_LENGTH) return;
    const variants = [value, encodeURIComponent(value)];
    for (const v of variants) if (!this.secrets.includes(v)) this.secrets.push(v);
    // longest first, so that a secret containing another is masked whole
    this.secrets.sort((a, b) => b.length - a.length);
  }

  scrub = (text: string): string => {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join(MASK);
    return out;
  };

  scrubDeep(value: unknown, depth = 0): unknown {
    if (typeof value === 'string') return this.scrub(value);
    if (depth > 6 || value === null || typeof value !== 'object') return value;
    if (value instanceof Error) return this.scrub(`${value.name}: ${value.message}`);
    if (Array.isArray(value)) return value.map((v) => this.scrubDeep(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = this.scrubDeep(v, depth + 1);
    return out;
  }
}

/** A Logger that masks every known secret in messages and fields before passing them on. */
export function redactingLogger(inner: Logger, secrets: SecretSet): Logger {
  const wrap =
    (fn: (obj: object, msg?: string) => void) =>
    (obj: object, msg?: string): void => {
      const o = secrets.scrubDeep(obj) as object;
      if (msg === undefined) fn(o);
      else fn(o, secrets.scrub(msg));
    };
  return {
    trace: wrap(inner.trace.bind(inner)),
    debug: wrap(inner.debug.bind(inner)),
    info: wrap(inner.info.bind(inner)),
    warn: wrap(inner.warn.bind(inner)),
    error: wrap(inner.error.bind(inner)),
    child: (bindings) =>
      redactingLogger(inner.child(secrets.scrubDeep(bindings) as Record<string, unknown>), secrets),
  };
}
