/**
 * The process logger: JSON lines on stdout (pino). Secrets are redacted at the last moment, on
 * the serialised line, so that no code path (error messages, nested objects, library errors)
 * can leak a value that came from `${VAR}` expansion or a credential flag.
 */
import { format } from 'node:util';
import { pino } from 'pino';
import type { Logger } from './model/logger.js';

export interface SecretRegistry {
  /**
   * Replace the values of one part (default `config`: called on every config snapshot; `jobs`:
   * the job definitions an etcd-mode worker owns); the other parts stay.
   */
  set(values: Iterable<string>, part?: string): void;
  add(value: string | null | undefined): void;
  redact(text: string): string;
}

const MIN_SECRET_LENGTH = 4; // shorter values would redact ordinary words

export function createSecretRegistry(): SecretRegistry {
  let fixed = new Set<string>();
  const parts = new Map<string, Set<string>>();
  let pattern: RegExp | null = null;
  const rebuild = () => {
    const all = [...new Set([...fixed, ...[...parts.values()].flatMap((p) => [...p])])].filter(
      (s) => s.length >= MIN_SECRET_LENGTH,
    );
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
    set(values, part = 'config') {
      parts.set(part, new Set(values));
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

/**
 * Node process warnings (the AWS SDK's multi-line `NodeVersionSupportWarning`, deprecations)
 * become one JSON `warn` line each instead of Node's plain-text stderr output. Returns undo.
 */
export function routeProcessWarnings(logger: Logger): () => void {
  const previous = process.listeners('warning');
  process.removeAllListeners('warning');
  const onWarning = (w: Error & { code?: string }) => {
    logger.warn({ module: 'node', warning: w.name, code: w.code }, w.message);
  };
  process.on('warning', onWarning);
  return () => {
    process.off('warning', onWarning);
    for (const l of previous) process.on('warning', l);
  };
}

/** The part of @grpc/grpc-js's logging surface used here (setLogger takes a Partial<Console>). */
interface GrpcLogging {
  setLogger(logger: Partial<Console>): void;
}

/**
 * gRPC's own diagnostics (grpc-js writes them as plain text with console.error: "Connection to
 * ... rejected by server because of excess pings", reconnect errors) go through the logger as
 * JSON: its errors as `warn` (the client recovers from each by itself), the rest as `debug`.
 * Loaded lazily: only cluster mode has gRPC.
 */
export async function routeGrpcLogs(logger: Logger, grpc?: GrpcLogging): Promise<void> {
  const lib: GrpcLogging = grpc ?? (await import('@grpc/grpc-js'));
  const log = logger.child({ module: 'grpc' });
  const line = (args: unknown[]) => format(...args).trim();
  lib.setLogger({
    error: (...args: unknown[]) => log.warn({}, line(args)),
    info: (...args: unknown[]) => log.debug({}, line(args)),
    debug: (...args: unknown[]) => log.debug({}, line(args)),
  });
}
