import { createMetrics } from '../../src/metrics.js';
import type { Health, StateChange } from '../../src/model/alert.js';
import type { AwsOptions, DatadogOptions, Endpoint, SinkTargets } from '../../src/model/endpoint.js';
import type { Logger } from '../../src/model/logger.js';
import type { CheckResult } from '../../src/model/result.js';

export function sinks(s: Partial<SinkTargets>): SinkTargets {
  return {
    postEndpoint: null,
    postApiKey: null,
    postJsonInfo: null,
    postService: null,
    aws: null,
    datadog: null,
    ...s,
  };
}

export function datadog(url: string, apiKey: string, extra: Partial<DatadogOptions> = {}): DatadogOptions {
  return { apiKey, site: 'datadoghq.com', url, checkName: 'watcher.endpoint', tags: [], ...extra };
}

export function aws(extra: Partial<AwsOptions> = {}): AwsOptions {
  return {
    region: null,
    accessKeyId: null,
    secretAccessKey: null,
    namespace: 'Watcher',
    highResolution: false,
    tagsAsDimensions: false,
    dataSource: null,
    dataDetailType: null,
    dataDetailsJson: {},
    dataResources: [],
    alarm: null,
    ...extra,
  };
}

export function endpoint(name: string, s: Partial<SinkTargets>, extra: Partial<Endpoint> = {}): Endpoint {
  return {
    id: name,
    url: `https://${name}`,
    method: 'GET',
    headers: {},
    body: null,
    timeoutMs: 5000,
    connectTimeoutMs: 5000,
    followRedirects: false,
    maxRedirects: 5,
    tlsVerify: true,
    keepalive: false,
    maxBodyBytes: 1 << 20,
    successTests: [],
    responseJsonValues: [],
    name,
    file: 'endpoints.d/test.yml',
    line: 1,
    schedule: { kind: 'interval', everyMs: 10_000 },
    alert: { failureThreshold: 1, successThreshold: 1 },
    dependsOn: [],
    tags: [],
    sinks: sinks(s),
    hash: `hash-${name}`,
    ...extra,
  };
}

export function result(ep: string, ok: boolean, extra: Partial<CheckResult> = {}): CheckResult {
  const now = Date.now();
  return {
    endpoint: ep,
    scheduled_at: now - 5,
    started_at: now,
    duration_ms: 42,
    ok,
    status_code: ok ? 200 : 503,
    error: ok ? null : 'status 503',
    values: ok ? { status: 'ok' } : {},
    worker: 'w1',
    ...extra,
  };
}

export function change(ep: string, from: Health, to: Health, extra: Partial<StateChange> = {}): StateChange {
  const r = result(ep, to === 'UP');
  return {
    endpoint: ep,
    from,
    to,
    at: r.started_at,
    reason: to === 'DOWN' ? 'status 503' : null,
    suppressed: false,
    result: r,
    id: `${ep}@${r.started_at}`,
    ...extra,
  };
}

export interface CapturedLine {
  level: string;
  obj: object;
  msg?: string;
}

/** A Logger that keeps every line (with child bindings merged) so tests can grep it. */
export function captureLogger(): Logger & { lines: CapturedLine[]; text(): string } {
  const lines: CapturedLine[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const at =
      (level: string) =>
      (obj: object, msg?: string): void => {
        lines.push({ level, obj: { ...bindings, ...obj }, ...(msg === undefined ? {} : { msg }) });
      };
    return {
      trace: at('trace'),
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (b) => make({ ...bindings, ...b }),
    };
  };
  return Object.assign(make({}), { lines, text: () => JSON.stringify(lines) });
}

export function freshMetrics() {
  return createMetrics({ defaultMetrics: false });
}

export async function counter(
  m: ReturnType<typeof freshMetrics>,
  name: 'sinkSent' | 'sinkDropped',
  sink: string,
): Promise<number> {
  const v = (await m[name].get()).values.find((x) => x.labels.sink === sink);
  return v?.value ?? 0;
}
