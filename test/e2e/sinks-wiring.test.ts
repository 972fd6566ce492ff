/**
 * The built worker, configured only through an endpoints file and the environment, delivers to
 * every destination through the real wire formats: Datadog (service checks, series, events),
 * CloudWatch (PutMetricData through the real AWS SDK), EventBridge (PutEvents), and the `self`
 * webhook (worker started). Secrets from the environment appear nowhere an operator can read:
 * logs, /api/v1/status, /metrics.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudWatchDouble } from '../support/doubles/cloudwatch-double.js';
import { DatadogDouble } from '../support/doubles/datadog-double.js';
import { EventBridgeDouble } from '../support/doubles/eventbridge-double.js';
import { HttpDouble } from '../support/doubles/http-double.js';
import { killAllSpawned, spawnWorker, type WorkerProcess } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';

const DD_KEY = 'dd-secret-key-0123456789abcdef';
const AWS_SECRET = 'aws-secret-access-key-0123456789';

describe('sinks wired into watcher run', () => {
  let target: Target;
  let dd: DatadogDouble;
  let cw: CloudWatchDouble;
  let eb: EventBridgeDouble;
  let hook: HttpDouble;
  let dir: string;
  let worker: WorkerProcess;
  let down: string;

  beforeAll(async () => {
    target = await startTarget();
    dd = await DatadogDouble.start({ apiKey: DD_KEY });
    cw = await CloudWatchDouble.start();
    eb = await EventBridgeDouble.start();
    hook = await new HttpDouble(() => ({ status: 200, body: '{}' })).start();
    dir = mkdtempSync(join(tmpdir(), 'watcher-sinks-'));
    const host = target.url.replace('http://', '');
    down = `${host}/status/503`;
    writeFileSync(
      join(dir, 'sinks.yml'),
      [
        'defaults:',
        '  scheme: http',
        '  interval: 1s',
        '  datadog:',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${VAR} for the config loader
        '    api_key: ${TEST_DD_KEY}',
        `    url: ${dd.url}`,
        '    tags: [team:test]',
        '  post_service: aws-cloudwatch',
        '  aws_region: us-east-1',
        '  data_source: watcher.test',
        '  data_detail_type: health',
        `${host}/ok: {}`,
        `${down}:`,
        '  post_json_info:',
        '    title: "{endpoint} is {state}"',
        '    text: "reason: {reason}"',
        'self:',
        `  post_endpoint: ${hook.url}/self`,
        '',
      ].join('\n'),
    );
    worker = await spawnWorker({
      id: 'sinks',
      etcd: [],
      endpointsDir: dir,
      extraArgs: ['--threads', '1'],
      env: {
        TEST_DD_KEY: DD_KEY,
        AWS_ENDPOINT_URL_CLOUDWATCH: cw.url,
        AWS_ENDPOINT_URL_EVENTBRIDGE: eb.url,
        AWS_ACCESS_KEY_ID: 'AKIDTEST',
        AWS_SECRET_ACCESS_KEY: AWS_SECRET,
        AWS_REGION: 'us-east-1',
      },
    });
    await worker.waitReady(15_000, '/readyz');
  });

  afterAll(async () => {
    await killAllSpawned();
    await Promise.all([target?.close(), dd?.close(), cw?.close(), eb?.close(), hook?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sends Datadog service checks per result with host_name = endpoint, series and a DOWN event', async () => {
    await waitFor(() => dd.checks.some((c) => c.host_name === down && c.status === 2), {
      timeoutMs: 10_000,
      message: 'CRITICAL service check for the 503 endpoint',
    });
    const crit = dd.checks.find((c) => c.host_name === down && c.status === 2)!;
    expect(crit.check).toBe('watcher.endpoint');
    expect(crit.tags).toEqual(expect.arrayContaining([`endpoint:${down}`, 'team:test']));
    expect(crit.message).toContain('status 503');
    await waitFor(() => dd.points('watcher.check.up').length > 0, {
      timeoutMs: 10_000,
      message: 'series points',
    });
    const event = await waitFor(() => dd.events.find((e) => e.aggregation_key === down), {
      timeoutMs: 10_000,
      message: 'Datadog event for the DOWN change',
    });
    expect(event.alert_type).toBe('error');
    expect(event.title).toBe(`${down} is DOWN`);
    expect(event.text).toContain('status 503');
    expect(dd.violations).toEqual([]);
  });

  it('sends CloudWatch metrics and an EventBridge event through the AWS SDK', async () => {
    await waitFor(
      () =>
        cw.puts.some((p) =>
          p.MetricData.some(
            (d) =>
              d.MetricName === 'Success' &&
              d.Dimensions?.some((x) => x.Name === 'Endpoint' && x.Value === down),
          ),
        ),
      { timeoutMs: 10_000, message: 'Success metric for the 503 endpoint' },
    );
    expect(cw.puts[0]!.Namespace).toBe('Watcher');
    const entry = await waitFor(() => eb.entries.find((e) => e.Source === 'watcher.test'), {
      timeoutMs: 10_000,
      message: 'EventBridge entry',
    });
    expect(entry.DetailType).toBe('health');
    const detail = JSON.parse(entry.Detail) as Record<string, unknown>;
    expect(detail.endpoint).toBe(down);
    expect(detail.state).toBe('DOWN');
    expect(cw.violations).toEqual([]);
    expect(eb.violations).toEqual([]);
  });

  it('reports the worker itself to the self webhook', async () => {
    const started = await waitFor(
      () => hook.requests.find((r) => r.body.toString().includes('worker_started')),
      {
        timeoutMs: 10_000,
        message: 'worker_started self event',
      },
    );
    expect(started.path).toBe('/self');
  });

  it('never shows a secret in logs, status or metrics', async () => {
    const status = (await worker.http('/api/v1/status')).body;
    const metrics = (await worker.http('/metrics')).body;
    const logs = worker.tail();
    for (const text of [status, metrics, logs, JSON.stringify(worker.logs())]) {
      expect(text).not.toContain(DD_KEY);
      expect(text).not.toContain(AWS_SECRET);
    }
    expect(status).toContain('sinks');
  });
});
