import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { datadogBaseUrl } from '../../src/sinks/datadog-site.js';
import { createSinkHub, type SinkHub } from '../../src/sinks/index.js';
import { DatadogDouble } from '../support/doubles/datadog-double.js';
import { HttpDouble } from '../support/doubles/http-double.js';
import { waitFor } from '../support/wait.js';
import { captureLogger, change, counter, datadog, endpoint, freshMetrics, result } from './fixtures.js';

const KEY = 'dd-test-key-0123456789';

describe('Datadog sinks through a Datadog double', () => {
  let dd: DatadogDouble;
  let hub: SinkHub;
  let metrics: ReturnType<typeof freshMetrics>;

  beforeEach(async () => {
    dd = await DatadogDouble.start({ apiKey: KEY });
    metrics = freshMetrics();
    hub = createSinkHub({
      metrics,
      logger: captureLogger(),
      workerId: 'w1',
      env: {},
      flushIntervalMs: 50,
      backoff: { baseMs: 50, maxMs: 400 },
      requestTimeoutMs: 2000,
    });
  });

  afterEach(async () => {
    await hub.close(1000);
    await dd.close();
  });

  it('sends a service check per result: host_name = endpoint, status 0/2, tags, message on failure only', async () => {
    hub.configure(
      [
        endpoint(
          'api.example.com/health',
          { datadog: datadog(dd.url, KEY, { tags: ['team:core'] }) },
          { tags: ['env:prod'] },
        ),
      ],
      [],
    );
    const ok = result('api.example.com/health', true);
    hub.result(ok);
    hub.result(result('api.example.com/health', false, { error: `status 503 ${'x'.repeat(600)}` }));
    await waitFor(() => dd.checks.length === 2, { timeoutMs: 5000, message: 'two service checks' });
    expect(dd.violations).toEqual([]);
    const [first, second] = dd.checks;
    expect(first).toEqual({
      check: 'watcher.endpoint',
      host_name: 'api.example.com/health',
      status: 0,
      tags: ['endpoint:api.example.com/health', 'team:core', 'env:prod'],
      timestamp: Math.floor(ok.started_at / 1000),
    });
    expect(second!.status).toBe(2);
    expect(second!.message!.length).toBe(500);
    const req = dd.accepted.find((r) => r.path === '/api/v1/check_run')!;
    expect(req.headers['dd-api-key']).toBe(KEY);
    expect(req.query).toEqual({});
    // The double records a request before its answer reaches the sink, which counts on the answer.
    await waitFor(
      async () => (await counter(metrics, 'sinkSent', `datadog-checks:${new URL(dd.url).host}`)) === 2,
      {
        timeoutMs: 5000,
        message: 'two checks counted as sent',
      },
    );
  });

  it('sends gzip-compressed gauge series up, latency_ms, lag_ms with the endpoint tag', async () => {
    hub.configure([endpoint('a.example.com/h', { datadog: datadog(dd.url, KEY) })], []);
    hub.result(
      result('a.example.com/h', true, {
        duration_ms: 12.5,
        scheduled_at: Date.now() - 30,
        started_at: Date.now(),
      }),
    );
    hub.result(result('a.example.com/h', false));
    await waitFor(() => dd.points('watcher.check.up').length === 2, {
      timeoutMs: 5000,
      message: 'up points',
    });
    expect(dd.violations).toEqual([]);
    const req = dd.accepted.find((r) => r.path === '/api/v2/series')!;
    expect(req.headers['content-encoding']).toBe('gzip');
    const ups = dd.points('watcher.check.up', 'endpoint:a.example.com/h').map((p) => p.value);
    expect(ups.sort()).toEqual([0, 1]);
    expect(dd.points('watcher.check.latency_ms')).toContainEqual(expect.objectContaining({ value: 12.5 }));
    expect(dd.points('watcher.check.lag_ms')[0]!.value).toBeGreaterThanOrEqual(30);
    const s = dd.series.find((x) => x.metric === 'watcher.check.latency_ms')!;
    expect(s).toMatchObject({ type: 3, unit: 'millisecond' });
  });

  it('splits series so that every compressed request stays under the limit, losing no point', async () => {
    await hub.close(0);
    hub = createSinkHub({
      metrics,
      logger: captureLogger(),
      workerId: 'w1',
      env: {},
      flushIntervalMs: 50,
      seriesMaxCompressedBytes: 3_000,
    });
    const names = Array.from(
      { length: 300 },
      (_, i) => `ep-${i}-${Math.random().toString(36).slice(2)}.example.com/h`,
    );
    hub.configure(
      names.map((n) => endpoint(n, { datadog: datadog(dd.url, KEY) })),
      [],
    );
    for (const n of names) hub.result(result(n, true));
    await waitFor(() => dd.points('watcher.check.up').length === 300, {
      timeoutMs: 10_000,
      message: 'all up points',
    });
    const reqs = dd.accepted.filter((r) => r.path === '/api/v2/series');
    expect(reqs.length).toBeGreaterThan(2);
    for (const r of reqs) expect(r.raw.length).toBeLessThanOrEqual(3_000);
    expect(dd.violations).toEqual([]);
  });

  it('sends a Datadog event on state changes only, templated, error for DOWN and success for UP', async () => {
    hub.configure(
      [
        endpoint('www.fabricsounds.com/health', {
          datadog: datadog(dd.url, KEY),
          postJsonInfo: {
            title: 'fabricsounds health',
            text: 'health {status} ({reason})',
            tags: ['status:{status}'],
          },
        }),
      ],
      [],
    );
    hub.result(result('www.fabricsounds.com/health', false));
    hub.stateChange(change('www.fabricsounds.com/health', 'UNKNOWN', 'UP')); // first verdict: not news
    const down = change('www.fabricsounds.com/health', 'UP', 'DOWN');
    hub.stateChange(down);
    const up = change('www.fabricsounds.com/health', 'DOWN', 'UP');
    hub.stateChange(up);
    await waitFor(() => dd.events.length === 2, { timeoutMs: 5000, message: 'two events' });
    await waitFor(() => dd.checks.length === 1, { timeoutMs: 5000, message: 'the service check' });
    expect(dd.violations).toEqual([]);
    expect(dd.events[0]).toMatchObject({
      title: 'fabricsounds health',
      text: 'health  (status 503)',
      alert_type: 'error',
      aggregation_key: 'www.fabricsounds.com/health',
      date_happened: Math.floor(down.at / 1000),
      tags: ['status:', 'endpoint:www.fabricsounds.com/health'],
    });
    expect(dd.events[1]).toMatchObject({
      alert_type: 'success',
      text: 'health ok ()',
      tags: ['status:ok', 'endpoint:www.fabricsounds.com/health'],
    });
  });

  it('sends a suppressed DOWN as info, marked, never as error', async () => {
    hub.configure([endpoint('child.example.com/h', { datadog: datadog(dd.url, KEY) })], []);
    hub.stateChange(change('child.example.com/h', 'UP', 'DOWN', { suppressed: true }));
    await waitFor(() => dd.events.length === 1, { timeoutMs: 5000, message: 'event' });
    expect(dd.events[0]!.alert_type).toBe('info');
    expect(dd.events[0]!.title).toMatch(/^\[suppressed\]/);
    expect(dd.events[0]!.tags).toContain('suppressed:true');
  });

  it('keeps the original post_endpoint form: key as URL parameter, Datadog event fields on an events path', async () => {
    const ep = endpoint('www.fabricsounds.com/health', {
      postEndpoint: `${dd.url}/api/v1/events`,
      postApiKey: { paramName: 'api_key', paramValue: KEY },
      postJsonInfo: { title: 'fabricsounds health', text: 'health {status}', tags: ['status:{status}'] },
    });
    hub.configure([ep], []);
    hub.stateChange(change(ep.name, 'UP', 'DOWN'));
    await waitFor(() => dd.events.length === 1, { timeoutMs: 5000, message: 'event' });
    expect(dd.violations).toEqual([]);
    const req = dd.accepted.find((r) => r.path === '/api/v1/events')!;
    expect(req.query).toEqual({ api_key: KEY });
    // 127.0.0.1 is not a Datadog host: the key goes only where the user put it
    expect(req.headers['dd-api-key']).toBeUndefined();
    expect(dd.events[0]).toMatchObject({
      title: 'fabricsounds health',
      alert_type: 'error',
      aggregation_key: ep.name,
    });
    expect(hub.stats().map((s) => s.sink)).toEqual([`datadog-events:${new URL(dd.url).host}`]);
  });

  it('does not send the event twice when both post_endpoint (Datadog) and datadog: are set', async () => {
    const ep = endpoint('x.example.com/h', {
      postEndpoint: `${dd.url}/api/v1/events`,
      postApiKey: { paramName: 'api_key', paramValue: KEY },
      datadog: datadog(dd.url, KEY),
    });
    hub.configure([ep], []);
    hub.stateChange(change(ep.name, 'UP', 'DOWN'));
    hub.result(result(ep.name, false));
    await waitFor(() => dd.events.length === 1 && dd.checks.length === 1, {
      timeoutMs: 5000,
      message: 'event + check',
    });
    await hub.close(1000);
    expect(dd.events).toHaveLength(1);
  });

  it('posts the templated post_json_info to a webhook, with the change facts under `watcher`', async () => {
    const hook = await new HttpDouble(() => ({ status: 200, body: 'ok' })).start();
    try {
      const ep = endpoint('shop.example.com/health', {
        postEndpoint: `${hook.url}/hooks/abc`,
        postApiKey: { paramName: 'token', paramValue: 'hook-secret-1234' },
        postJsonInfo: { text: '{endpoint} is {state}: {reason}' },
      });
      hub.configure([ep], []);
      const c = change(ep.name, 'UP', 'DOWN');
      hub.stateChange(c);
      await waitFor(() => hook.requests.length === 1, { timeoutMs: 5000, message: 'webhook call' });
      const req = hook.requests[0]!;
      expect(req.path).toBe('/hooks/abc');
      expect(req.query).toEqual({ token: 'hook-secret-1234' });
      expect(req.headers['content-type']).toBe('application/json');
      expect(JSON.parse(req.body.toString())).toEqual({
        text: 'shop.example.com/health is DOWN: status 503',
        watcher: {
          type: 'state_change',
          endpoint: ep.name,
          state: 'DOWN',
          previous: 'UP',
          reason: 'status 503',
          suppressed: false,
          event_id: c.id,
          at: new Date(c.at).toISOString(),
          worker: 'w1',
          status_code: 503,
        },
      });
      expect(hub.stats().map((s) => s.sink)).toEqual([`webhook:${new URL(hook.url).host}`]);
    } finally {
      await hook.close();
    }
  });

  it('sends self events to the self block as Datadog events', async () => {
    hub.configure([], [{ file: 'a.yml', sinks: endpoint('self', { datadog: datadog(dd.url, KEY) }).sinks }]);
    hub.selfEvent({ kind: 'config_error', at: Date.now(), worker: 'w1', message: 'a.yml:3:1: bad cron' });
    await waitFor(() => dd.events.length === 1, { timeoutMs: 5000, message: 'self event' });
    expect(dd.events[0]).toMatchObject({
      text: 'a.yml:3:1: bad cron',
      alert_type: 'error',
      aggregation_key: 'watcher:config',
      tags: ['watcher_event:config_error', 'worker:w1'],
    });
  });
});

describe('datadogBaseUrl', () => {
  it('uses url, else site, else DD_SITE, else datadoghq.com', () => {
    expect(datadogBaseUrl({ site: 'datadoghq.eu', url: 'http://127.0.0.1:9/' }, {})).toBe(
      'http://127.0.0.1:9',
    );
    expect(datadogBaseUrl({ site: 'us5.datadoghq.com', url: null }, {})).toBe(
      'https://api.us5.datadoghq.com',
    );
    expect(datadogBaseUrl({ site: '', url: null }, { DD_SITE: 'datadoghq.eu' })).toBe(
      'https://api.datadoghq.eu',
    );
    expect(datadogBaseUrl({ site: '', url: null }, {})).toBe('https://api.datadoghq.com');
  });
});

/** A hub with one Datadog endpoint `a.example.com/h` against a fresh double; closes both after `body`. */
async function withStaleHub(
  body: (ctx: { dd: DatadogDouble; hub: SinkHub; metrics: ReturnType<typeof freshMetrics> }) => Promise<void>,
): Promise<void> {
  const dd = await DatadogDouble.start({ apiKey: KEY });
  const metrics = freshMetrics();
  const hub = createSinkHub({
    metrics,
    logger: captureLogger(),
    workerId: 'w1',
    env: {},
    flushIntervalMs: 20,
  });
  try {
    hub.configure([endpoint('a.example.com/h', { datadog: datadog(dd.url, KEY) })], []);
    await body({ dd, hub, metrics });
    expect(dd.violations).toEqual([]);
  } finally {
    await hub.close(500);
    await dd.close();
  }
}

describe('stale items', () => {
  it('drops (and counts) service checks older than Datadog accepts instead of sending them', async () => {
    await withStaleHub(async ({ dd, hub, metrics }) => {
      hub.result(result('a.example.com/h', true, { started_at: Date.now() - 11 * 60_000 }));
      hub.result(result('a.example.com/h', true));
      await waitFor(() => dd.checks.length === 1, { timeoutMs: 5000, message: 'fresh check' });
      const name = `datadog-checks:${new URL(dd.url).host}`;
      await waitFor(async () => (await counter(metrics, 'sinkDropped', name)) === 1, {
        timeoutMs: 5000,
        message: 'stale dropped',
      });
    });
  });

  it('drops (and counts) events older than 18 h instead of sending them; fresh ones go', async () => {
    await withStaleHub(async ({ dd, hub, metrics }) => {
      const old = Date.now() - 19 * 3600_000;
      hub.stateChange(change('a.example.com/h', 'UP', 'DOWN', { at: old }));
      hub.stateChange(change('a.example.com/h', 'DOWN', 'UP', { at: old + 1000 }));
      const fresh = change('a.example.com/h', 'UP', 'DOWN');
      hub.stateChange(fresh);
      await waitFor(() => dd.events.length === 1, { timeoutMs: 5000, message: 'the fresh event' });
      expect(dd.events[0]!.date_happened).toBe(Math.floor(fresh.at / 1000));
      const name = `datadog-events:${new URL(dd.url).host}`;
      await waitFor(async () => (await counter(metrics, 'sinkDropped', name)) === 2, {
        timeoutMs: 5000,
        message: 'two stale events dropped and counted',
      });
      expect(dd.events).toHaveLength(1);
    });
  });
});
