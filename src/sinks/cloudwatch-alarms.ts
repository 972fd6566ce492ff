import type { PutMetricAlarmCommandInput } from '@aws-sdk/client-cloudwatch';
import type { Endpoint } from '../model/endpoint.js';
import { type AwsClients, type AwsTarget, classifyAwsError } from './aws-clients.js';
import { DEFAULT_NAMESPACE, dimensionsFor } from './cloudwatch-metrics.js';
import { sendEach } from './http.js';
import type { SendReport, Sink, SinkLimits } from './types.js';

/** `watcher-<endpoint>`, with characters outside a conservative ASCII set replaced, ≤ 255. */
export function alarmName(endpoint: string): string {
  return `watcher-${endpoint}`.replace(/[^A-Za-z0-9._\-/:]/g, '-').slice(0, 255);
}

/**
 * The alarm of an endpoint: `Minimum` of `Success` < 1 for `evaluationPeriods` periods. Minimum
 * makes duplicates harmless: a second worker's point for the same minute cannot lift a 0 to a 1.
 * Missing data is left as missing (a cron schedule slower than the period must not alarm).
 * Returns null when the endpoint asks for no alarm.
 */
export function alarmInputFor(
  ep: Pick<Endpoint, 'name' | 'tags' | 'sinks'>,
): PutMetricAlarmCommandInput | null {
  const aws = ep.sinks.aws;
  if (ep.sinks.postService !== 'aws-cloudwatch' || !aws?.alarm) return null;
  const a = aws.alarm;
  const period = Math.max(aws.highResolution ? 10 : 60, a.periodSeconds || 60);
  const evaluationPeriods = Math.max(1, a.evaluationPeriods || 3);
  return {
    AlarmName: alarmName(ep.name),
    AlarmDescription:
      `watcher: ${ep.name} failing (Minimum of Success < 1 for ${evaluationPeriods} x ${period}s)`.slice(
        0,
        1024,
      ),
    Namespace: aws.namespace || DEFAULT_NAMESPACE,
    MetricName: 'Success',
    Dimensions: dimensionsFor(ep.name, ep.tags, aws.tagsAsDimensions),
    Statistic: 'Minimum',
    Period: period,
    EvaluationPeriods: evaluationPeriods,
    DatapointsToAlarm: evaluationPeriods,
    Threshold: 1,
    ComparisonOperator: 'LessThanThreshold',
    TreatMissingData: 'missing',
    ActionsEnabled: true,
    AlarmActions: a.alarmActions,
    OKActions: a.okActions,
  };
}

/** PutMetricAlarm, one per request; PutMetricAlarm with the same name updates (idempotent). */
export class CloudWatchAlarmsSink implements Sink<PutMetricAlarmCommandInput> {
  readonly name: string;
  readonly limits: SinkLimits = { maxItems: 10, maxBytes: 1_000_000 };

  constructor(
    name: string,
    private readonly clients: AwsClients,
    private readonly target: AwsTarget,
  ) {
    this.name = name;
  }

  sizeOf(item: PutMetricAlarmCommandInput): number {
    return JSON.stringify(item).length;
  }

  async send(batch: PutMetricAlarmCommandInput[], signal: AbortSignal): Promise<SendReport | undefined> {
    const { client, sdk } = await this.clients.cloudwatch(this.target);
    return sendEach(batch, async (input) => {
      try {
        await client.send(new sdk.PutMetricAlarmCommand(input), { abortSignal: signal });
      } catch (err) {
        throw classifyAwsError(err, signal);
      }
    });
  }
}
