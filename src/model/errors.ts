/**
 * Typed errors with stable codes users and tests can match on (like undici's UND_ERR_*).
 * Codes never change meaning once released; add new ones instead.
 */
export class WatcherError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WatcherError';
    this.code = code;
  }
}

/** Bad command-line usage: exit code 2. */
export class UsageError extends WatcherError {
  constructor(message: string) {
    super('WATCHER_USAGE', message);
    this.name = 'UsageError';
  }
}
