import type { DatadogOptions } from '../model/endpoint.js';
import type { CheckResult } from '../model/result.js';
import { httpPost } from './http.js';
import type { SendReport, Sink, SinkLimits } from './types.js';

/** One element of the `POST /api/v1/check_run` array. */
export interface ServiceCheck {
  check: string;
  /** the endpoint, not the worker: reports from two workers around a failover land in one group */
  host_name: string;
  /** 0 OK, 2 CRITICAL */
  status: 0 | 1 | 2 | 3;
  tags: string[];
  /** epoch seconds */
  timestamp: number;
  /** failure reason, ≤ 500 characters; absent when OK */
  message?: string;
}

export const SERVICE_CHECK_MESSAGE_MAX = 500;
/** Datadog accepts service checks up to 10 minutes old; keep a margin for clock skew */
export const SERVICE_CHECK_MAX_AGE_S = 590;

export function endpointTags(endpoint: string, ...lists: Array<readonly string[] | undefined>): string[] {
  const out = [`endpoint:${endpoint}`];
  for (const l of lists) for (const t of l ?? []) if (!out.includes(t)) out.push(t);
  return out;
}

export function serviceCheckFor(
  r: CheckResult,
  ep: { name: string; tags: string[] },
  dd: Pick<DatadogOptions, 'checkName' | 'tags'>,
): ServiceCheck {
  const sc: ServiceCheck = {
    check: dd.checkName || 'watcher.endpoint',
    host_name: ep.name,
    status: r.ok ? 0 : 2,
    tags: endpointTags(ep.name, dd.tags, ep.tags),
    timestamp: Math.floor(r.started_at / 1000),
  };
  // Monitors can exclude held results: `!maintenance:true`, `!silenced:true`.
  if (r.maintenance) sc.tags = [...sc.tags, 'maintenance:true'];
  if (r.silenced) sc.tags = [...sc.tags, 'silenced:true'];
  if (!r.ok) sc.message = (r.error ?? 'check failed').slice(0, SERVICE_CHECK_MESSAGE_MAX);
  return sc;
}

export interface DatadogSinkConfig {
  name: string;
  /** `https://api.<site>` or the `url` override */
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
}

/** Service checks, many per request. */
export class DatadogServiceChecksSink implements Sink<ServiceCheck> {
  readonly name: string;
  readonly limits: SinkLimits = { maxItems: 1000, maxBytes: 400_000 };

  constructor(private readonly cfg: DatadogSinkConfig) {
    this.name = cfg.name;
  }

  sizeOf(item: ServiceCheck): number {
    return JSON.stringify(item).length + 1;
  }

  async send(batch: ServiceCheck[], signal: AbortSignal): Promise<SendReport | undefined> {
    // Datadog ignores service checks older than 10 minutes (after a long outage): drop, counted
    const oldest = Math.floor(Date.now() / 1000) - SERVICE_CHECK_MAX_AGE_S;
    const fresh = batch.filter((c) => c.timestamp >= oldest);
    if (fresh.length > 0)
      await httpPost({
        url: `${this.cfg.baseUrl}/api/v1/check_run`,
        headers: { 'content-type': 'application/json', 'dd-api-key': this.cfg.apiKey },
        body: JSON.stringify(fresh),
        signal,
        timeoutMs: this.cfg.timeoutMs,
      });
    if (fresh.length === batch.length) return undefined;
    return {
      outcomes: batch.map((c) => (c.timestamp >= oldest ? 'sent' : 'drop')),
      error: 'service check older than 10 minutes',
    };
  }
}
