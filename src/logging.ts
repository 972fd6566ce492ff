/**
 * The process logger: JSON lines on stdout (pino). Secrets are redacted at the last moment, on
 * the serialised line, so that no code path (error messages, nested objects, library errors)
 * can leak a value that came from `${VAR}` expansion or a credential flag.
 */
import { pino } from 'pino';
import type { Logger } from './model/logger.js';

export interface SecretRegistry {
  /** replace the current set (called on every config snapshot) */
  set(values: Iterable<string>): void;
  add(value: string | null | undefined): void;
  redact(text: string): string;
}

const MIN_SECRET_LENGTH = 4; // shorter values would redact ordinary words

export function createSecretRegistry(): SecretRegistry {
  let fixed = new Set<string>();
  let dynamic = new Set<string>();
  let pattern: RegExp | null = null;
  const rebuild = () => {
    const all = [...fixed, ...dynamic].filter((s) => s.length >= MIN_SECRET_LENGTH);
    all.sort((a, b) => b.length - a.length);
    // JSON-escaped variants too: the line being redacted is serialised JSON.
    const variants = new Set<string>();
    for (const s of all) {
      variants.add(s);
      variants.add(JSON.stringify(s).slice(1, -1));
    }
    pattern =
      variants.size === 0
        ? null
        : new RegExp([...variants].map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  };
  return {
    set(values) {
      dynamic = new Set(values);
      rebuild();
    },
    add(value) {
      if (!value) return;
      fixed = new Set(fixed).add(value);
      rebuild();
    },
    redact(text) {
      return pattern ? text.replace(pattern, '[REDACTED]') : text;
    },
  };
}

export function createLogger(opts: {
  level: string;
  secrets: SecretRegistry;
  bindings?: Record<string, unknown>;
  destination?: NodeJS.WritableStream;
}): Logger {
  const dest = opts.destination ?? process.stdout;
  return pino(
    {
      level: opts.level,
      base: opts.bindings ?? {},
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [
          'headers.authorization',
          'headers.Authorization',
          '*.headers.authorization',
          'password',
          'apiKey',
        ],
        censor: '[REDACTED]',
      },
      hooks: { streamWrite: (line) => opts.secrets.redact(line) },
    },
    dest as pino.DestinationStream,
  ) as unknown as Logger;
}
