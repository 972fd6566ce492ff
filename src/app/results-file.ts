import type { createLogger } from '../logging.js';
import type { createMetrics } from '../metrics.js';
import type { systemClock } from '../model/clock.js';
import { ResultsFile } from '../output/results-file.js';
import type { SelfEventKind } from '../sinks/index.js';

/** `--results-file` with its write errors reported (log, metric, `self` event) and its recovery. */
export function openResultsFile(
  path: string,
  deps: {
    clock: typeof systemClock;
    metrics: ReturnType<typeof createMetrics>;
    logger: ReturnType<typeof createLogger>;
    announce: (kind: SelfEventKind, message: string, details?: Record<string, unknown>) => void;
  },
): ResultsFile {
  const { clock, metrics, logger, announce } = deps;
  return new ResultsFile(path, {
    clock,
    onDropped: (n) => metrics.resultsFileDropped.inc(n),
    onFailing: (err) => {
      const message = `results file ${path} cannot be written (${err.code ?? err.message}): result lines are dropped and counted (watcher_results_file_dropped_total) until it can; retrying`;
      logger.error({ path, code: err.code }, message);
      announce('results_file_failing', message, { path, code: err.code ?? null });
    },
    onResumed: (dropped) => {
      const message = `results file ${path} is written again; ${dropped} result lines were dropped`;
      logger.info({ path, dropped }, message);
      announce('results_file_ok', message, { path, dropped });
    },
  });
}

/** The results file in the health section of the status document (null without one). */
export function resultsFileHealth(
  f: ResultsFile | null,
): { path: string; ok: boolean; error: string | null; dropped: number } | null {
  return f
    ? { path: f.path, ok: f.error === null, error: f.error?.code ?? null, dropped: f.droppedLines }
    : null;
}
