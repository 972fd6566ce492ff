import type { StateChange } from '../model/alert.js';
import type { PostApiKey } from '../model/endpoint.js';
import { httpPost, sendEach } from './http.js';
import { renderObject } from './template.js';
import { selfEventValues, stateChangeValues } from './template-values.js';
import type { SelfEvent, SendReport, Sink, SinkLimits } from './types.js';

/**
 * A generic webhook body: the rendered `post_json_info`, plus a `watcher` object with the facts
 * of the change (so a receiver need not parse the user's text).
 */
export function webhookBodyForChange(
  c: StateChange,
  tpl: Record<string, unknown> | null,
): Record<string, unknown> {
  return {
    ...renderObject(tpl, stateChangeValues(c)),
    watcher: {
      type: 'state_change',
      endpoint: c.endpoint,
      state: c.to,
      previous: c.from,
      reason: c.reason,
      suppressed: c.suppressed,
      event_id: c.id,
      at: new Date(c.at).toISOString(),
      worker: c.result.worker,
      status_code: c.result.status_code,
    },
  };
}

export function webhookBodyForSelf(
  e: SelfEvent,
  tpl: Record<string, unknown> | null,
): Record<string, unknown> {
  return {
    ...renderObject(tpl, selfEventValues(e)),
    watcher: {
      type: 'self',
      kind: e.kind,
      worker: e.worker,
      message: e.message,
      at: new Date(e.at).toISOString(),
      ...(e.details ? { details: e.details } : {}),
    },
  };
}

/** `post_endpoint` with `post_api_key` attached as a URL query parameter, as the original design did. */
export function postUrl(postEndpoint: string, key: PostApiKey | null): string {
  if (!key) return postEndpoint;
  const u = new URL(postEndpoint);
  u.searchParams.append(key.paramName, key.paramValue);
  return u.toString();
}

export interface WebhookSinkConfig {
  name: string;
  /** full URL, possibly carrying the API key as a query parameter */
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
}

/** One JSON body per POST to a fixed URL (a webhook, or a Datadog events URL of the original form). */
export class WebhookSink implements Sink<Record<string, unknown>> {
  readonly name: string;
  readonly limits: SinkLimits = { maxItems: 20, maxBytes: 1_000_000 };

  constructor(private readonly cfg: WebhookSinkConfig) {
    this.name = cfg.name;
  }

  sizeOf(item: Record<string, unknown>): number {
    return JSON.stringify(item).length;
  }

  send(batch: Array<Record<string, unknown>>, signal: AbortSignal): Promise<SendReport | undefined> {
    return sendEach(batch, (body) =>
      httpPost({
        url: this.cfg.url,
        headers: { 'content-type': 'application/json', ...this.cfg.headers },
        body: JSON.stringify(body),
        signal,
        timeoutMs: this.cfg.timeoutMs,
      }),
    );
  }
}
