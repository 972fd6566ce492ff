import { isLocalReason, localCodeOf } from '../checks/reasons.js';
import { type Metrics, observeProbeResult } from '../metrics.js';
import type { StateChange } from '../model/alert.js';
import type { Endpoint } from '../model/endpoint.js';
import type { Logger } from '../model/logger.js';
import type { CheckResult } from '../model/result.js';
import type { ResultsFile } from '../output/results-file.js';
import type { EventStream } from '../server/event-stream.js';
import type { ResultOutputs } from './ports.js';

/** Where a result goes besides the engine's own memory: metrics, results file, sinks, live stream, log. */
export function createFanout(deps: {
  metrics: Metrics;
  resultsFile: ResultsFile | null;
  sinks: { result(r: CheckResult): void; stateChange(c: StateChange): void };
  events: EventStream;
  logger: Logger;
  localFaults?: { observe(r: CheckResult): void };
}): ResultOutputs {
  const { metrics, resultsFile, sinks, events, logger } = deps;
  return {
    result(r: CheckResult, endpoint: Endpoint) {
      deps.localFaults?.observe(r);
      if (endpoint.maintenance)
        metrics.endpointInMaintenance.set({ endpoint: r.endpoint }, r.maintenance ? 1 : 0);
      if (isLocalReason(r.error)) {
        // Not a datapoint about the target: kept in the audit trail and the live view, never sent.
        metrics.checksLocalErrors.inc({ code: localCodeOf(r.error as string) });
        resultsFile?.write(r);
        events.publish('result', r);
        return;
      }
      if (r.unconfirmed) {
        // Another worker passed this check: the owner's own problem, never a datapoint for sinks.
        metrics.checksTotal.inc({ endpoint: r.endpoint, result: 'unconfirmed' });
        resultsFile?.write(r);
        events.publish('result', r);
        return;
      }
      metrics.checksTotal.inc({ endpoint: r.endpoint, result: r.ok ? 'success' : 'failure' });
      metrics.checkDuration.observe(r.duration_ms / 1000);
      metrics.scheduleLag.observe(Math.max(0, r.started_at - r.scheduled_at) / 1000);
      observeProbeResult(metrics, r);
      resultsFile?.write(r);
      sinks.result(r);
      events.publish('result', r);
    },
    stateChange(c: StateChange, _endpoint: Endpoint) {
      const fields = {
        endpoint: c.endpoint,
        from: c.from,
        to: c.to,
        reason: c.reason,
        suppressed: c.suppressed,
        ...(c.maintenance ? { maintenance: true } : {}),
        ...(c.silenced ? { silenced: true } : {}),
        event_id: c.id,
        ...(c.result?.confirm ? { confirm: c.result.confirm.outcome, confirm_by: c.result.confirm.by } : {}),
      };
      const held = c.maintenance ? ' (maintenance: not sent)' : c.silenced ? ' (silenced: not sent)' : '';
      if (held) metrics.alertsHeld.inc({ reason: c.maintenance ? 'maintenance' : 'silence' });
      if (c.to === 'DOWN' && !c.suppressed && !held) logger.warn(fields, 'endpoint DOWN');
      else
        logger.info(
          fields,
          `endpoint ${c.to}${c.suppressed ? ' (suppressed: a parent is DOWN)' : ''}${held}`,
        );
      sinks.stateChange(c);
      const { result: _r, ...event } = c;
      events.publish('state', event);
    },
  };
}
