import type { PutEventsCommandOutput, PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { StateChange } from '../model/alert.js';
import type { AwsOptions } from '../model/endpoint.js';
import { type AwsClients, type AwsTarget, classifyAwsError } from './aws-clients.js';
import { renderObject } from './template.js';
import { selfEventValues, stateChangeValues } from './template-values.js';
import type { ItemOutcome, SelfEvent, SendReport, Sink, SinkLimits } from './types.js';

export const DEFAULT_EVENT_SOURCE = 'watcher';
export const STATE_CHANGE_DETAIL_TYPE = 'Watcher Endpoint State Change';
export const SELF_DETAIL_TYPE = 'Watcher Self Event';
/** PutEvents limits */
export const MAX_ENTRIES_PER_REQUEST = 10;
export const MAX_REQUEST_BYTES = 256 * 1024;

/**
 * `Source` = data_source, `DetailType` = data_detail_type, `Detail` = the rendered
 * data_details_json plus endpoint, state, previous, reason, suppressed, event_id (deterministic:
 * a rule or consumer can deduplicate the event sent twice around a failover), worker, at.
 */
export function eventBridgeEntryForChange(c: StateChange, aws: AwsOptions | null): PutEventsRequestEntry {
  const detail = {
    ...renderObject(aws?.dataDetailsJson ?? null, stateChangeValues(c)),
    endpoint: c.endpoint,
    state: c.to,
    previous: c.from,
    reason: c.reason,
    suppressed: c.suppressed,
    event_id: c.id,
    worker: c.result.worker,
    at: new Date(c.at).toISOString(),
  };
  return {
    Source: aws?.dataSource || DEFAULT_EVENT_SOURCE,
    DetailType: aws?.dataDetailType || STATE_CHANGE_DETAIL_TYPE,
    Detail: JSON.stringify(detail),
    Resources: aws?.dataResources ?? [],
    Time: new Date(c.at),
  };
}

export function eventBridgeEntryForSelf(e: SelfEvent, aws: AwsOptions | null): PutEventsRequestEntry {
  const detail = {
    ...renderObject(aws?.dataDetailsJson ?? null, selfEventValues(e)),
    kind: e.kind,
    message: e.message,
    worker: e.worker,
    at: new Date(e.at).toISOString(),
    ...(e.details ? { details: e.details } : {}),
  };
  return {
    Source: aws?.dataSource || DEFAULT_EVENT_SOURCE,
    DetailType: aws?.dataDetailType || SELF_DETAIL_TYPE,
    Detail: JSON.stringify(detail),
    Resources: aws?.dataResources ?? [],
    Time: new Date(e.at),
  };
}

/** Entry size as EventBridge counts it (Time 14 bytes, UTF-8 of Source, DetailType, Detail, Resources). */
export function entrySize(e: PutEventsRequestEntry): number {
  let n = e.Time ? 14 : 0;
  for (const s of [e.Source, e.DetailType, e.Detail, ...(e.Resources ?? [])])
    if (s) n += Buffer.byteLength(s);
  return n;
}

/** PutEvents, ≤ 10 entries and ≤ 256 KB a request; entries the service reports failed are retried. */
export class EventBridgeSink implements Sink<PutEventsRequestEntry> {
  readonly name: string;
  readonly limits: SinkLimits = { maxItems: MAX_ENTRIES_PER_REQUEST, maxBytes: MAX_REQUEST_BYTES };

  constructor(
    name: string,
    private readonly clients: AwsClients,
    private readonly target: AwsTarget,
  ) {
    this.name = name;
  }

  sizeOf(item: PutEventsRequestEntry): number {
    return entrySize(item);
  }

  async send(batch: PutEventsRequestEntry[], signal: AbortSignal): Promise<SendReport | undefined> {
    const outcomes: ItemOutcome[] = batch.map((e) => (entrySize(e) > MAX_REQUEST_BYTES ? 'drop' : 'sent'));
    const sendIdx = outcomes.flatMap((o, i) => (o === 'sent' ? [i] : []));
    let error: string | undefined = sendIdx.length < batch.length ? 'event larger than 256 KB' : undefined;
    if (sendIdx.length > 0) {
      const entries = sendIdx.map((i) => batch[i]!);
      let res: PutEventsCommandOutput;
      try {
        const { client, sdk } = await this.clients.eventbridge(this.target);
        res = await client.send(new sdk.PutEventsCommand({ Entries: entries }), { abortSignal: signal });
      } catch (err) {
        throw classifyAwsError(err, signal);
      }
      if ((res.FailedEntryCount ?? 0) > 0) {
        sendIdx.forEach((batchIdx, k) => {
          const r = res.Entries?.[k];
          if (!r || r.ErrorCode) {
            outcomes[batchIdx] = 'retry';
            error = `entry failed: ${r?.ErrorCode ?? 'no result'}`;
          }
        });
      }
    }
    if (outcomes.every((o) => o === 'sent')) return undefined;
    return { outcomes, ...(error ? { error } : {}) };
  }
}
