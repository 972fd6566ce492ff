import { afterEach, describe, expect, it } from 'vitest';
import { createSinkHub, type SinkHubOptions } from '../../src/sinks/index.js';
import { CloudWatchDouble } from '../support/doubles/cloudwatch-double.js';
import { DatadogDouble } from '../support/doubles/datadog-double.js';
import { HttpDouble } from '../support/doubles/http-double.js';
import { waitFor } from '../support/wait.js';
import { aws, captureLogger, change, counter, datadog, endpoint, freshMetrics, result } from './fixtures.js';

const KEY = 'dd-resilience-key-42f1e0';
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('sink resilience', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function start(opts: Partial<SinkHubOptions> = {}) {
    const dd = await DatadogDouble.start({ apiKey: KEY });
    const metrics = freshMetrics();
    const logger = captureLogger();
    const hub = createSinkHub({
      metrics,
      logger,
      workerId: 'w1',
      env: {},
      flushIntervalMs: 50,
      backoff: { baseMs: 50, maxMs: 400 },
      requestTimeoutMs: 2000,
      ...opts,
    });
    cleanup.push(() => dd.close());
    cleanup.push(() => hub.close(500));
    return { dd, metrics, logger, hub };
  }

  async function hook(reply = () => ({ status: 200, body: 'ok' })): Promise<HttpDouble> {
    const h = await new HttpDouble(reply).start();
    cleanup.push(() => h.close());
    return h;
  }

  it('survives an outage (503 for 10 s, as in the issue): every state change delivered, results up to the bound, drops counted', async () => {
    const { dd, metrics, hub } = await start({ bufferSize: 50, droppingEventIntervalMs: 60_000 });
    const selfHook = await hook();
    const ep = endpoint('shop.example.com/health', { datadog: datadog(dd.url, KEY) });
    hub.configure(
      [ep],
      [{ file: 'a.yml', sinks: endpoint('self', { postEndpoint: `${selfHook.url}/self` }).sinks }],
    );
    dd.fail({ status: 503, body: '{"errors":["unavailable"]}' }, { forMs: 10_000 });
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 20; i++) {
        const r = result(ep.name, i % 2 === 0, {
          started_at: Date.now(),
          scheduled_at: Date.now() - 1,
          duration_ms: round * 100 + i,
        });
        hub.result(r);
      }
      if (round % 2 === 0)
        hub.stateChange(
          change(ep.name, round % 4 === 0 ? 'UP' : 'DOWN', round % 4 === 0 ? 'DOWN' : 'UP', {
            id: `chg-${round}`,
          }),
        );
      await pause(100);
    }
    expect(dd.http.faulted.length).toBeGreaterThan(0);
    const checks = `datadog-checks:${new URL(dd.url).host}`;
    await waitFor(
      async () =>
        dd.events.length === 5 &&
        (await counter(metrics, 'sinkSent', checks)) + (await counter(metrics, 'sinkDropped', checks)) ===
          200,
      {
        timeoutMs: 25_000,
        message: 'outage drained',
      },
    );
    expect(dd.violations).toEqual([]);
    expect(dd.events.map((e) => e.alert_type)).toEqual(['error', 'success', 'error', 'success', 'error']);
    const delivered = dd.checks.length;
    const dropped = await counter(metrics, 'sinkDropped', checks);
    expect(delivered).toBeGreaterThanOrEqual(50);
    expect(dropped).toBeGreaterThan(0);
    expect(delivered + dropped).toBe(200);
    // the newest results survive, the oldest were dropped (latency_ms identifies each result)
    const series = `datadog-series:${new URL(dd.url).host}`;
    await waitFor(
      async () =>
        (await counter(metrics, 'sinkSent', series)) + (await counter(metrics, 'sinkDropped', series)) ===
        200,
      {
        timeoutMs: 5000,
        message: 'series drained',
      },
    );
    const latencies = dd.points('watcher.check.latency_ms').map((p) => p.value);
    expect(latencies).toContain(919);
    expect(latencies).not.toContain(0);
    const stat = hub.stats().find((s) => s.sink === checks)!;
    expect(stat).toMatchObject({ sent: delivered, dropped, queued: 0, lastError: null });
    // the drop was reported to self, once per interval per sink
    await waitFor(() => selfHook.requests.length >= 1, {
      timeoutMs: 5000,
      message: 'sink_dropping self event',
    });
    const bodies = selfHook.requests.map((r) => JSON.parse(r.body.toString()).watcher);
    expect(bodies.filter((b) => b.kind === 'sink_dropping' && b.details.sink === checks)).toHaveLength(1);
  });

  it('honours a 429 with X-RateLimit-Reset: no attempt before the reset', async () => {
    const { dd, hub } = await start();
    hub.configure([endpoint('a.example.com/h', { datadog: datadog(dd.url, KEY) })], []);
    dd.fail(
      { status: 429, headers: { 'x-ratelimit-reset': '1' }, body: '{"errors":["rate"]}' },
      { count: 1, match: (r) => r.path === '/api/v1/check_run' },
    );
    hub.result(result('a.example.com/h', true));
    await waitFor(() => dd.checks.length === 1, { timeoutMs: 5000, message: 'check after the reset' });
    const limited = dd.http.faulted.find((r) => r.path === '/api/v1/check_run')!;
    const ok = dd.accepted.find((r) => r.path === '/api/v1/check_run')!;
    expect(ok.at - limited.at).toBeGreaterThanOrEqual(1000);
    // the other Datadog sinks were not held back by the check_run rate limit
    const series = dd.accepted.find((r) => r.path === '/api/v2/series')!;
    expect(series.at).toBeLessThan(ok.at);
  });

  it('honours Retry-After on a webhook', async () => {
    const { hub } = await start();
    const h = await hook();
    h.fail({ status: 503, headers: { 'retry-after': '1' } }, { count: 1 });
    hub.configure([endpoint('a.example.com/h', { postEndpoint: `${h.url}/x` })], []);
    hub.stateChange(change('a.example.com/h', 'UP', 'DOWN'));
    await waitFor(() => h.requests.length === 1, { timeoutMs: 5000, message: 'webhook delivered' });
    expect(h.requests[0]!.at - h.faulted[0]!.at).toBeGreaterThanOrEqual(1000);
  });

  it('a hanging sink does not delay another sink; its request times out and is retried', async () => {
    const { dd, hub } = await start({ requestTimeoutMs: 600 });
    const slow = await hook();
    slow.hang();
    const ep = endpoint('a.example.com/h', {
      postEndpoint: `${slow.url}/hook`,
      datadog: datadog(dd.url, KEY),
    });
    hub.configure([ep], []);
    const t0 = Date.now();
    hub.stateChange(change(ep.name, 'UP', 'DOWN'));
    for (let i = 0; i < 100; i++) hub.result(result(ep.name, false));
    expect(Date.now() - t0).toBeLessThan(200); // the result path does not wait for any sink
    await waitFor(() => dd.events.length === 1 && dd.checks.length === 100, {
      timeoutMs: 3000,
      message: 'fast sink delivered',
    });
    expect(slow.requests).toHaveLength(0);
    expect(slow.faulted.length).toBeGreaterThanOrEqual(1);
    // the slow sink gets its event once it answers again
    slow.heal();
    await waitFor(() => slow.requests.length === 1, {
      timeoutMs: 5000,
      message: 'slow sink delivered after healing',
    });
    const stat = hub.stats().find((s) => s.sink.startsWith('webhook:'))!;
    expect(stat.sent).toBe(1);
  });

  it('a full self sink reporting its own drops does not feed itself', async () => {
    const { hub, metrics } = await start({ bufferSize: 2, droppingEventIntervalMs: 0 });
    const selfHook = await hook();
    selfHook.hang();
    hub.configure(
      [],
      [{ file: 'a.yml', sinks: endpoint('self', { postEndpoint: `${selfHook.url}/self` }).sinks }],
    );
    for (let i = 0; i < 10; i++)
      hub.selfEvent({ kind: 'lag_high', at: Date.now(), worker: 'w1', message: `lag ${i}` });
    await pause(200);
    const name = hub.stats()[0]!.sink;
    const dropped = await counter(metrics, 'sinkDropped', name);
    // 10 events, a batch in flight and 2 buffered; each drop report adds at most one more event
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBeLessThanOrEqual(20);
  });

  it('flushes buffered items on close without waiting for the flush interval', async () => {
    const { dd, hub } = await start({ flushIntervalMs: 60_000 });
    hub.configure([endpoint('a.example.com/h', { datadog: datadog(dd.url, KEY) })], []);
    hub.result(result('a.example.com/h', true));
    await pause(100);
    expect(dd.checks).toHaveLength(0);
    const t0 = Date.now();
    await hub.close(3000);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(dd.checks).toHaveLength(1);
    expect(dd.points('watcher.check.up')).toHaveLength(1);
  });

  it('never shows secrets in logs, errors, stats or metric labels', async () => {
    const AWS_SECRET = 'aws-secret-SHOULD-NOT-LEAK-9f8e7d';
    const PARAM_KEY = 'param-key-SHOULD-NOT-LEAK-1a2b3c';
    const DD_KEY = 'ddkey-SHOULD-NOT-LEAK-77aa88';
    const echo = await hook();
    // a receiver that echoes the request line (and so the key in the query) in its 400 body
    const echoBad = await new HttpDouble(() => ({ status: 400, body: 'placeholder' })).start();
    cleanup.push(() => echoBad.close());
    const cw = await CloudWatchDouble.start();
    cleanup.push(() => cw.close());
    const closedPort = echoBad.url; // refused once closed below
    cw.fail({
      status: 403,
      headers: { 'content-type': 'application/x-amz-json-1.0' },
      body: JSON.stringify({ __type: 'InvalidClientTokenId', message: `bad token for secret ${AWS_SECRET}` }),
    });
    const metrics = freshMetrics();
    const logger = captureLogger();
    const hub = createSinkHub({
      metrics,
      logger,
      workerId: 'w1',
      env: {
        AWS_ENDPOINT_URL_CLOUDWATCH: cw.url,
        AWS_ENDPOINT_URL_EVENTBRIDGE: closedPort,
        AWS_REGION: 'us-east-1',
      },
      flushIntervalMs: 20,
      backoff: { baseMs: 20, maxMs: 100 },
      requestTimeoutMs: 1000,
      droppingEventIntervalMs: 0,
    });
    cleanup.push(() => hub.close(200));
    hub.configure(
      [
        // a 400 echoing the URL with the key
        endpoint('a.example.com/h', {
          postEndpoint: `${echo.url}/reject`,
          postApiKey: { paramName: 'api_key', paramValue: PARAM_KEY },
        }),
        // Datadog rejecting the key (403)
        endpoint('b.example.com/h', { datadog: datadog(`${echo.url}/dd`, DD_KEY) }),
        // connection refused, with the key in the URL
        endpoint('c.example.com/h', {
          postEndpoint: `${closedPort}/gone`,
          postApiKey: { paramName: 'key', paramValue: PARAM_KEY },
        }),
        endpoint('d.example.com/h', {
          postService: 'aws-cloudwatch',
          aws: aws({ accessKeyId: 'AKIDLEAKTEST0001', secretAccessKey: AWS_SECRET }),
        }),
      ],
      [{ file: 's.yml', sinks: endpoint('self', { postEndpoint: `${echo.url}/self` }).sinks }],
    );
    await echoBad.close();
    echo.fail(
      { status: 400, body: `bad request GET /reject?api_key=${PARAM_KEY}` },
      { match: (r) => r.path === '/reject' },
    );
    echo.fail({ status: 403, body: `forbidden: key ${DD_KEY}` }, { match: (r) => r.path.startsWith('/dd') });
    for (const n of ['a', 'b', 'c', 'd']) {
      hub.result(result(`${n}.example.com/h`, false));
      hub.stateChange(change(`${n}.example.com/h`, 'UP', 'DOWN'));
    }
    await waitFor(
      () => {
        const s = hub.stats();
        return s.length >= 5 && s.every((x) => x.lastError !== null || x.sink.includes('self') || x.sent > 0);
      },
      { timeoutMs: 5000, message: 'every sink failed at least once' },
    );
    await waitFor(() => echo.requests.some((r) => r.path === '/self'), {
      timeoutMs: 5000,
      message: 'self event',
    });
    const stats = JSON.stringify(hub.stats());
    expect(stats).toMatch(/status 400/);
    expect(stats).toMatch(/InvalidClientTokenId/);
    expect(stats).toMatch(/connect ECONNREFUSED|network/);
    const exposed = [
      logger.text(),
      stats,
      await metrics.registry.metrics(),
      ...echo.requests.filter((r) => r.path === '/self').map((r) => r.body.toString()),
    ].join('\n');
    expect(logger.lines.length).toBeGreaterThan(0);
    for (const secret of [AWS_SECRET, PARAM_KEY, DD_KEY, encodeURIComponent(PARAM_KEY)])
      expect(exposed).not.toContain(secret);
    expect(exposed).toContain('[redacted]');
  });
});
