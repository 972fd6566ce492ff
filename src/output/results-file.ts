import { createWriteStream, type WriteStream } from 'node:fs';
import type { CheckResult } from '../model/result.js';

/**
 * `--results-file`: every result appended as one JSON line (a local audit trail). Writes are
 * buffered by the stream; if the disk cannot keep up, lines queue in memory up to a bound and
 * the overflow is counted rather than blocking checks.
 */
export class ResultsFile {
  private stream: WriteStream;
  private dropped = 0;
  private failed: Error | null = null;

  constructor(
    readonly path: string,
    private readonly maxBufferedBytes = 16 * 1024 * 1024,
  ) {
    this.stream = createWriteStream(path, { flags: 'a' });
    this.stream.on('error', (err) => {
      this.failed = err;
    });
  }

  get droppedLines(): number {
    return this.dropped;
  }

  get error(): Error | null {
    return this.failed;
  }

  write(r: CheckResult): void {
    if (this.failed || this.stream.writableLength > this.maxBufferedBytes) {
      this.dropped++;
      return;
    }
    this.stream.write(`${JSON.stringify(r)}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.failed) return resolve();
      this.stream.end(() => resolve());
    });
  }
}
