import { createHash } from 'node:crypto';
import type { StateChange } from '../model/alert.js';
import type { DatadogOptions, Endpoint, SelfTargets, SinkTargets } from '../model/endpoint.js';
import type { CheckResult } from '../model/result.js';
import { type AwsClients, awsTargetKey, resolveAwsTarget } from './aws-clients.js';
import { alarmInputFor, CloudWatchAlarmsSink } from './cloudwatch-alarms.js';
import {
  type CloudWatchMetricItem,
  CloudWatchMetricsSink,
  clusterMetricItem,
  metricItemFor,
} from './cloudwatch-metrics.js';
import { DatadogEventsSink, datadogEventForChange, datadogEventForSelf } from './datadog-events.js';
import { DatadogSeriesSink, seriesItemFor } from './datadog-series.js';
import { DatadogServiceChecksSink, endpointTags, serviceCheckFor } from './datadog-service-checks.js';
import { datadogBaseUrl, hostOf, isDatadogEventsPath, isDatadogHost } from './datadog-site.js';
import { EventBridgeSink, eventBridgeEntryForChange, eventBridgeEntryForSelf } from './eventbridge.js';
import type { Outbox, Priority } from './outbox.js';
import type { SelfEvent, Sink } from './types.js';
import { postUrl, WebhookSink, webhookBodyForChange, webhookBodyForSelf } from './webhook.js';

/** What routing needs from the hub: an outbox per destination key (created once, then reused). */
export interface RouteContext {
  /** `key` identifies the destination (it may be derived from secrets: it is hashed, never shown); `label` is the public name */
  outbox<T>(key: string, label: string, make: (name: string) => Sink<T>): Outbox<T>;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  seriesMaxCompressedBytes?: number;
  clients: AwsClients;
  /** an alarm definition not yet sent for (endpoint, hash): returns true once */
  firstAlarm(endpoint: string, hash: string): boolean;
  warn(msg: string, fields: object): void;
}

export interface EndpointRoute {
  results: Array<(r: CheckResult) => void>;
  changes: Array<(c: StateChange) => void>;
}

export function destinationKey(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex');
}

interface PostTarget {
  ob: Outbox<Record<string, unknown>>;
  /** the URL is a Datadog events intake: bodies get the Datadog event fields */
  datadogEvents: boolean;
  key: string;
}

/** `post_endpoint` (+ `post_api_key` as a URL parameter; DD-API-KEY too when the host is Datadog's). */
function postTarget(s: SinkTargets, ctx: RouteContext, owner: string): PostTarget | null {
  if (!s.postEndpoint) return null;
  let url: URL;
  try {
    url = new URL(s.postEndpoint);
  } catch {
    ctx.warn('post_endpoint is not a URL; nothing is sent there', { owner });
    return null;
  }
  const ddHost = isDatadogHost(url.hostname);
  const datadogEvents = ddHost || isDatadogEventsPath(url.pathname);
  const full = postUrl(s.postEndpoint, s.postApiKey);
  const apiKey = s.postApiKey?.paramValue || (s.datadog ? datadogKey(s.datadog, ctx.env) : '') || null;
  const headers: Record<string, string> = ddHost && apiKey ? { 'dd-api-key': apiKey } : {};
  const key = destinationKey('post', full, JSON.stringify(headers));
  const label = `${datadogEvents ? 'datadog-events' : 'webhook'}:${url.host}`;
  const ob = ctx.outbox(
    key,
    label,
    (name) => new WebhookSink({ name, url: full, headers, timeoutMs: ctx.timeoutMs }),
  );
  return { ob, datadogEvents, key };
}

function datadogEventsOutbox(s: SinkTargets, ctx: RouteContext) {
  const dd = s.datadog!;
  const baseUrl = datadogBaseUrl(dd, ctx.env);
  const apiKey = datadogKey(dd, ctx.env);
  return ctx.outbox(
    destinationKey('dd-events', baseUrl, apiKey),
    `datadog-events:${hostOf(baseUrl)}`,
    (name) => new DatadogEventsSink({ name, baseUrl, apiKey, timeoutMs: ctx.timeoutMs }),
  );
}

/** `datadog.api_key`, defaulting to `$DD_API_KEY` when the config left it empty */
function datadogKey(dd: DatadogOptions, env: NodeJS.ProcessEnv): string {
  return dd.apiKey || env.DD_API_KEY || '';
}

function push<T>(ob: Outbox<T>, item: T | null, priority: Priority): void {
  if (item !== null) ob.push(item, priority);
}

/**
 * The routes of one endpoint. Every result: Datadog service check + series (`datadog:`),
 * CloudWatch metrics (`post_service: aws-cloudwatch`). State changes: `post_endpoint` (Datadog
 * event or webhook), Datadog event (`datadog:`, unless `post_endpoint` already is a Datadog events
 * URL: one event per change, not two), EventBridge. The CloudWatch alarm is put at configure time.
 */
export function routeEndpoint(ep: Endpoint, ctx: RouteContext): EndpointRoute {
  const s = ep.sinks;
  const route: EndpointRoute = { results: [], changes: [] };

  const post = postTarget(s, ctx, ep.name);
  if (post) {
    const tpl = s.postJsonInfo;
    route.changes.push(
      post.datadogEvents
        ? (c) => push(post.ob, datadogEventForChange(c, tpl, ep.tags), 'alert')
        : (c) => push(post.ob, webhookBodyForChange(c, tpl), 'alert'),
    );
  }

  if (s.datadog) {
    const dd = s.datadog;
    const baseUrl = datadogBaseUrl(dd, ctx.env);
    const host = hostOf(baseUrl);
    const apiKey = datadogKey(dd, ctx.env);
    const cfg = (name: string) => ({ name, baseUrl, apiKey, timeoutMs: ctx.timeoutMs });
    const checks = ctx.outbox(
      destinationKey('dd-checks', baseUrl, apiKey),
      `datadog-checks:${host}`,
      (name) => new DatadogServiceChecksSink(cfg(name)),
    );
    const series = ctx.outbox(
      destinationKey('dd-series', baseUrl, apiKey),
      `datadog-series:${host}`,
      (name) =>
        new DatadogSeriesSink({
          ...cfg(name),
          ...(ctx.seriesMaxCompressedBytes ? { maxCompressedBytes: ctx.seriesMaxCompressedBytes } : {}),
        }),
    );
    const tags = endpointTags(ep.name, dd.tags, ep.tags);
    route.results.push((r) => push(checks, serviceCheckFor(r, ep, dd), 'result'));
    route.results.push((r) => push(series, seriesItemFor(r, tags), 'result'));
    if (!post?.datadogEvents) {
      const events = datadogEventsOutbox(s, ctx);
      const extra = [...dd.tags, ...ep.tags];
      route.changes.push((c) => push(events, datadogEventForChange(c, s.postJsonInfo, extra), 'alert'));
    }
  }

  if (s.postService === 'aws-cloudwatch') {
    const target = resolveAwsTarget(s.aws, ctx.env);
    const tk = awsTargetKey(target);
    const metrics = ctx.outbox(
      destinationKey('cw-metrics', tk),
      `cloudwatch:${target.region}`,
      (name) => new CloudWatchMetricsSink(name, ctx.clients, target),
    );
    const alarm = alarmInputFor(ep);
    // A held result (maintenance, silence) must not drive the alarm: it sends no datapoint, and the
    // alarm leaves missing data as missing.
    route.results.push((r) => {
      if (alarm && (r.maintenance || r.silenced)) return;
      push(metrics, metricItemFor(r, ep, s.aws), 'result');
    });
    const events = ctx.outbox(
      destinationKey('eventbridge', tk),
      `eventbridge:${target.region}`,
      (name) => new EventBridgeSink(name, ctx.clients, target),
    );
    route.changes.push((c) => push(events, eventBridgeEntryForChange(c, s.aws), 'alert'));
    if (alarm) {
      const alarms = ctx.outbox(
        destinationKey('cw-alarms', tk),
        `cloudwatch-alarms:${target.region}`,
        (name) => new CloudWatchAlarmsSink(name, ctx.clients, target),
      );
      if (ctx.firstAlarm(ep.name, ep.hash)) alarms.push(alarm, 'alert');
    }
  }
  return route;
}

/**
 * The routes of one `self` block: Datadog events (`datadog:` or a Datadog `post_endpoint`),
 * webhooks, EventBridge (with the block's data_source). No metrics: self events are discrete.
 * `seen` de-duplicates identical destinations declared in several files.
 */
export function routeSelf(
  t: SelfTargets,
  ctx: RouteContext,
  seen: Set<string>,
): Array<(e: SelfEvent) => void> {
  const s = t.sinks;
  const out: Array<(e: SelfEvent) => void> = [];
  const once = (key: string, fn: (e: SelfEvent) => void) => {
    if (seen.has(key)) return;
    seen.add(key);
    out.push(fn);
  };
  const tplKey = JSON.stringify(s.postJsonInfo ?? null);
  const post = postTarget(s, ctx, `self (${t.file})`);
  if (post) {
    const tpl = s.postJsonInfo;
    once(
      destinationKey(post.key, tplKey),
      post.datadogEvents
        ? (e) => push(post.ob, datadogEventForSelf(e, tpl, []), 'alert')
        : (e) => push(post.ob, webhookBodyForSelf(e, tpl), 'alert'),
    );
  }
  if (s.datadog && !post?.datadogEvents) {
    const dd = s.datadog;
    const events = datadogEventsOutbox(s, ctx);
    once(destinationKey('dd-events', datadogBaseUrl(dd, ctx.env), datadogKey(dd, ctx.env), tplKey), (e) =>
      push(events, datadogEventForSelf(e, s.postJsonInfo, dd.tags), 'alert'),
    );
  }
  if (s.postService === 'aws-cloudwatch') {
    const target = resolveAwsTarget(s.aws, ctx.env);
    const tk = awsTargetKey(target);
    const events = ctx.outbox(
      destinationKey('eventbridge', tk),
      `eventbridge:${target.region}`,
      (name) => new EventBridgeSink(name, ctx.clients, target),
    );
    once(destinationKey('eventbridge', tk, JSON.stringify(s.aws ?? null)), (e) =>
      push(events, eventBridgeEntryForSelf(e, s.aws), 'alert'),
    );
  }
  return out;
}

/** Cluster signals of the admin, for a `self` block with `post_service: aws-cloudwatch` (one route per destination). */
export function routeSelfMetrics(
  t: SelfTargets,
  ctx: RouteContext,
  seen: Set<string>,
): Array<(cluster: string, signals: ClusterSignals, at: number) => void> {
  const s = t.sinks;
  if (s.postService !== 'aws-cloudwatch') return [];
  const target = resolveAwsTarget(s.aws, ctx.env);
  const tk = awsTargetKey(target);
  const key = destinationKey('cw-cluster', tk, JSON.stringify(s.aws?.namespace ?? null));
  if (seen.has(key)) return [];
  seen.add(key);
  const metrics = ctx.outbox(
    destinationKey('cw-metrics', tk),
    `cloudwatch:${target.region}`,
    (name) => new CloudWatchMetricsSink(name, ctx.clients, target),
  );
  return [
    (cluster, signals, at) =>
      push(metrics, clusterMetricItem(cluster, signals, at, s.aws) as CloudWatchMetricItem, 'result'),
  ];
}

export interface ClusterSignals {
  jobsWaiting: number;
  spareCapacity: number;
  workersNeeded: number;
}
