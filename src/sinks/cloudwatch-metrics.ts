import type { MetricDatum, StandardUnit } from '@aws-sdk/client-cloudwatch';
import type { AwsOptions } from '../model/endpoint.js';
import type { CheckResult } from '../model/result.js';
import { type AwsClients, type AwsTarget, classifyAwsError } from './aws-clients.js';
import { sendEach } from './http.js';
import type { ItemOutcome, SendReport, Sink, SinkLimits } from './types.js';

export interface Dimension {
  Name: string;
  Value: string;
}

/** What one result contributes: `Success` (1/0) and `Latency` (ms) under its dimensions. */
export interface CloudWatchMetricItem {
  namespace: string;
  dimensions: Dimension[];
  /** epoch ms */
  timestamp: number;
  success: 0 | 1;
  latencyMs: number;
  highResolution: boolean;
  /** instead of Success/Latency: named values (the admin's cluster signals) */
  values?: Array<{ name: string; unit: StandardUnit; value: number }>;
}

/** The admin's autoscaling signals as CloudWatch metrics, dimension `Cluster` (docs/CLUSTER.md). */
export function clusterMetricItem(
  cluster: string,
  signals: { jobsWaiting: number; spareCapacity: number; workersNeeded: number },
  at: number,
  aws: AwsOptions | null,
): CloudWatchMetricItem {
  return {
    namespace: aws?.namespace || DEFAULT_NAMESPACE,
    dimensions: [{ Name: 'Cluster', Value: cluster.slice(0, 1024) }],
    timestamp: at,
    success: 1,
    latencyMs: 0,
    highResolution: false,
    values: [
      { name: 'JobsWaiting', unit: 'Count', value: signals.jobsWaiting },
      { name: 'SpareCapacity', unit: 'Count', value: signals.spareCapacity },
      { name: 'WorkersNeeded', unit: 'Count', value: signals.workersNeeded },
    ],
  };
}

export const DEFAULT_NAMESPACE = 'Watcher';
/** PutMetricData limits */
export const MAX_DATUMS_PER_REQUEST = 1000;
export const MAX_VALUES_PER_DATUM = 150;
export const MAX_DIMENSIONS = 30;
/** 1 MB request limit, with room for the envelope and estimate error */
export const MAX_REQUEST_BYTES = 900_000;

/**
 * `Endpoint` = the endpoint name; with `tagsAsDimensions`, each user tag `key:value` becomes the
 * dimension key=value (a tag without `:` becomes tag=`true`), up to CloudWatch's 30 dimensions.
 * An alarm must name exactly the same dimensions, so both use this function.
 */
export function dimensionsFor(endpoint: string, tags: string[], tagsAsDimensions: boolean): Dimension[] {
  const dims: Dimension[] = [{ Name: 'Endpoint', Value: endpoint.slice(0, 1024) }];
  if (!tagsAsDimensions) return dims;
  for (const t of tags) {
    if (dims.length >= MAX_DIMENSIONS) break;
    const i = t.indexOf(':');
    const name = (i > 0 ? t.slice(0, i) : t).slice(0, 255);
    const value = (i > 0 ? t.slice(i + 1) : 'true').slice(0, 1024);
    if (!name || !value || dims.some((d) => d.Name === name)) continue;
    dims.push({ Name: name, Value: value });
  }
  return dims;
}

export function metricItemFor(
  r: CheckResult,
  ep: { name: string; tags: string[] },
  aws: AwsOptions | null,
): CloudWatchMetricItem {
  return {
    namespace: aws?.namespace || DEFAULT_NAMESPACE,
    dimensions: dimensionsFor(ep.name, ep.tags, aws?.tagsAsDimensions ?? false),
    timestamp: r.started_at,
    success: r.ok ? 1 : 0,
    latencyMs: Math.round(r.duration_ms * 1000) / 1000,
    highResolution: aws?.highResolution ?? false,
  };
}

interface Aggregate {
  name: string;
  unit: StandardUnit;
  dimensions: Dimension[];
  timestamp: number;
  highResolution: boolean;
  counts: Map<number, number>;
  items: Set<number>;
}

interface Request {
  namespace: string;
  data: MetricDatum[];
  items: Set<number>;
}

/**
 * Builds PutMetricData requests: points of many results are merged into `Values`/`Counts` arrays
 * per (metric, dimensions, timestamp bucket) — one second with high resolution, one minute
 * otherwise, CloudWatch's own storage granularity — then packed ≤ 1000 datums and ≤ ~1 MB a request.
 */
export function buildMetricRequests(batch: CloudWatchMetricItem[]): Request[] {
  const byNamespace = new Map<string, Map<string, Aggregate>>();
  batch.forEach((it, idx) => {
    let aggs = byNamespace.get(it.namespace);
    if (!aggs) {
      aggs = new Map();
      byNamespace.set(it.namespace, aggs);
    }
    const bucketMs = it.highResolution ? 1000 : 60_000;
    const ts = Math.floor(it.timestamp / bucketMs) * bucketMs;
    const dimKey = it.dimensions.map((d) => `${d.Name}=${d.Value}`).join('\u0001');
    const points: Array<readonly [string, StandardUnit, number]> = it.values
      ? it.values.map((v) => [v.name, v.unit, v.value] as const)
      : [
          ['Success', 'Count', it.success],
          ['Latency', 'Milliseconds', it.latencyMs],
        ];
    for (const [name, unit, value] of points) {
      const key = `${name}\u0000${dimKey}\u0000${ts}\u0000${it.highResolution ? 1 : 60}`;
      let a = aggs.get(key);
      if (!a) {
        a = {
          name,
          unit,
          dimensions: it.dimensions,
          timestamp: ts,
          highResolution: it.highResolution,
          counts: new Map(),
          items: new Set(),
        };
        aggs.set(key, a);
      }
      a.counts.set(value, (a.counts.get(value) ?? 0) + 1);
      a.items.add(idx);
    }
  });

  const requests: Request[] = [];
  for (const [namespace, aggs] of byNamespace) {
    let cur: Request = { namespace, data: [], items: new Set() };
    let bytes = 0;
    for (const a of aggs.values()) {
      const entries = [...a.counts.entries()];
      for (let i = 0; i < entries.length; i += MAX_VALUES_PER_DATUM) {
        const part = entries.slice(i, i + MAX_VALUES_PER_DATUM);
        const datum: MetricDatum = {
          MetricName: a.name,
          Dimensions: a.dimensions,
          Timestamp: new Date(a.timestamp),
          Values: part.map(([v]) => v),
          Counts: part.map(([, n]) => n),
          Unit: a.unit,
          ...(a.highResolution ? { StorageResolution: 1 } : {}),
        };
        const size = JSON.stringify(datum).length + 16;
        if (
          cur.data.length >= MAX_DATUMS_PER_REQUEST ||
          (cur.data.length > 0 && bytes + size > MAX_REQUEST_BYTES)
        ) {
          requests.push(cur);
          cur = { namespace, data: [], items: new Set() };
          bytes = 0;
        }
        cur.data.push(datum);
        bytes += size;
        for (const idx of a.items) cur.items.add(idx);
      }
    }
    if (cur.data.length > 0) requests.push(cur);
  }
  return requests;
}

const RANK: Record<ItemOutcome, number> = { sent: 0, drop: 1, retry: 2 };

/** CloudWatch PutMetricData, batched across endpoints of one (region, credentials). */
export class CloudWatchMetricsSink implements Sink<CloudWatchMetricItem> {
  readonly name: string;
  readonly limits: SinkLimits = { maxItems: 500, maxBytes: 800_000 };

  constructor(
    name: string,
    private readonly clients: AwsClients,
    private readonly target: AwsTarget,
  ) {
    this.name = name;
  }

  sizeOf(item: CloudWatchMetricItem): number {
    return 2 * (120 + item.dimensions.reduce((n, d) => n + d.Name.length + d.Value.length + 24, 0));
  }

  async send(batch: CloudWatchMetricItem[], signal: AbortSignal): Promise<SendReport | undefined> {
    const { client, sdk } = await this.clients.cloudwatch(this.target);
    const requests = buildMetricRequests(batch);
    const report = await sendEach(requests, async (req) => {
      try {
        await client.send(new sdk.PutMetricDataCommand({ Namespace: req.namespace, MetricData: req.data }), {
          abortSignal: signal,
        });
      } catch (err) {
        throw classifyAwsError(err, signal);
      }
    });
    if (!report) return undefined;
    const outcomes: ItemOutcome[] = batch.map(() => 'sent');
    requests.forEach((req, i) => {
      const o = report.outcomes[i] ?? 'retry';
      for (const idx of req.items) if (RANK[o] > RANK[outcomes[idx]!]) outcomes[idx] = o;
    });
    return { ...report, outcomes };
  }
}
