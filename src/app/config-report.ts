/**
 * Reports config problems of each snapshot: every problem to the log, and per file the first
 * time it breaks (`config_error` self event, watcher_config_errors_total) and when it is fixed
 * (`config_fixed`). A file that stays broken is not announced again.
 */
import type { ConfigSnapshot } from '../config/types.js';
import type { Metrics } from '../metrics.js';
import type { Logger } from '../model/logger.js';
import type { SelfEvent } from '../sinks/index.js';

export class ConfigProblemReport {
  private readonly badFiles = new Set<string>();

  constructor(
    private readonly deps: {
      workerId: string;
      now: () => number;
      logger: Logger;
      metrics: Pick<Metrics, 'configErrors'>;
      selfEvent: (e: SelfEvent) => void;
    },
  ) {}

  report(s: ConfigSnapshot): void {
    const { logger, metrics, workerId } = this.deps;
    const nowBad = new Set(s.problems.map((p) => p.file));
    for (const p of s.problems) {
      logger.error(
        { file: p.file, line: p.line, col: p.col, code: p.code },
        `${p.file}:${p.line}:${p.col}: ${p.message}`,
      );
    }
    for (const file of nowBad) {
      if (!this.badFiles.has(file)) {
        metrics.configErrors.inc({ file });
        const first = s.problems.find((p) => p.file === file);
        this.deps.selfEvent({
          kind: 'config_error',
          at: this.deps.now(),
          worker: workerId,
          message: first
            ? `${first.file}:${first.line}:${first.col}: ${first.message}`
            : `${file} is invalid`,
        });
      }
    }
    for (const file of this.badFiles) {
      if (!nowBad.has(file)) {
        logger.info({ file }, 'config file fixed');
        this.deps.selfEvent({
          kind: 'config_fixed',
          at: this.deps.now(),
          worker: workerId,
          message: `${file} is valid again`,
        });
      }
    }
    this.badFiles.clear();
    for (const f of nowBad) this.badFiles.add(f);
  }
}
