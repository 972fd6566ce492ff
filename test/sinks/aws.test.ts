import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSinkHub, type SinkHub } from '../../src/sinks/index.js';
import { CloudWatchDouble } from '../support/doubles/cloudwatch-double.js';
import { EventBridgeDouble } from '../support/doubles/eventbridge-double.js';
import { waitFor } from '../support/wait.js';
import { aws, captureLogger, change, counter, endpoint, freshMetrics, result } from './fixtures.js';

const AKID = 'AKIDTESTONLY0001';
const SECRET = 'aws-test-secret-0123456789abcdef';

describe('CloudWatch and EventBridge through the real SDK clients and local doubles', () => {
  let cw: CloudWatchDouble;
  let eb: EventBridgeDouble;
  let hub: SinkHub;
  let metrics: ReturnType<typeof freshMetrics>;
  let env: NodeJS.ProcessEnv;

  beforeEach(async () => {
    cw = await CloudWatchDouble.start({ accessKeyId: AKID, region: 'eu-west-1' });
    eb = await EventBridgeDouble.start({ accessKeyId: AKID, region: 'eu-west-1' });
    env = {
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL_CLOUDWATCH: cw.url,
      AWS_ENDPOINT_URL_EVENTBRIDGE: eb.url,
      AWS_ACCESS_KEY_ID: AKID,
      AWS_SECRET_ACCESS_KEY: SECRET,
    };
    metrics = freshMetrics();
    hub = createSinkHub({
      metrics,
      logger: captureLogger(),
      workerId: 'w1',
      env,
      flushIntervalMs: 50,
      backoff: { baseMs: 50, maxMs: 300 },
    });
  });

  afterEach(async () => {
    await hub.close(1000);
    await cw.close();
    await eb.close();
  });

  const cwEndpoint = (name: string, extra: Parameters<typeof aws>[0] = {}, tags: string[] = []) =>
    endpoint(name, { postService: 'aws-cloudwatch', aws: aws(extra) }, { tags });

  it('puts Success and Latency with dimension Endpoint, batched across endpoints, as AWS JSON 1.0', async () => {
    hub.configure([cwEndpoint('a.example.com/h'), cwEndpoint('b.example.com/h')], []);
    hub.result(result('a.example.com/h', true, { duration_ms: 10 }));
    hub.result(result('b.example.com/h', false, { duration_ms: 20 }));
    await waitFor(() => cw.values('Success').length === 2, {
      timeoutMs: 5000,
      message: 'two Success values',
    });
    expect(cw.violations).toEqual([]);
    expect(cw.puts).toHaveLength(1);
    const req = cw.http.requests[0]!;
    expect(req.headers['x-amz-target']).toBe('GraniteServiceVersion20100801.PutMetricData');
    expect(req.headers['x-amzn-query-mode']).toBe('true');
    expect(cw.puts[0]!.Namespace).toBe('Watcher');
    expect(cw.values('Success', 'a.example.com/h')).toEqual([1]);
    expect(cw.values('Success', 'b.example.com/h')).toEqual([0]);
    expect(cw.values('Latency', 'b.example.com/h')).toEqual([20]);
    const lat = cw.puts[0]!.MetricData.find((d) => d.MetricName === 'Latency')!;
    expect(lat).toMatchObject({
      Unit: 'Milliseconds',
      Dimensions: [{ Name: 'Endpoint', Value: 'a.example.com/h' }],
    });
    expect(typeof lat.Timestamp).toBe('number');
    expect(lat.StorageResolution).toBeUndefined();
    // The double records a request before its answer reaches the sink, which counts on the answer.
    await waitFor(async () => (await counter(metrics, 'sinkSent', 'cloudwatch:eu-west-1')) === 2, {
      timeoutMs: 5000,
      message: 'two datums counted as sent',
    });
  });

  it('keeps every request within 1000 datums and 150 values, gzipped when large, losing nothing', async () => {
    const names = Array.from({ length: 1500 }, (_, i) => `host-${i}.example.com/health`);
    hub.configure(
      names.map((n) => cwEndpoint(n)),
      [],
    );
    for (const n of names) hub.result(result(n, true));
    // one endpoint, many distinct latencies in one minute: Values arrays must be split at 150
    const one = Date.UTC(2026, 0, 1, 12, 0, 0);
    for (let i = 0; i < 400; i++)
      hub.result(result(names[0]!, true, { started_at: one + i, duration_ms: i }));
    await waitFor(() => cw.values('Success').length === 1900, {
      timeoutMs: 15_000,
      message: 'all Success values',
    });
    expect(cw.violations).toEqual([]);
    for (const p of cw.puts) expect(p.MetricData.length).toBeLessThanOrEqual(1000);
    expect(cw.puts.some((p) => p.gzipped)).toBe(true);
    expect(cw.values('Latency', names[0]).filter((v) => v < 400).length).toBeGreaterThanOrEqual(400);
    const succ = cw.puts
      .flatMap((p) => p.MetricData)
      .find((d) => d.MetricName === 'Success' && d.Counts?.[0] === 400);
    expect(succ?.Values).toEqual([1]);
  });

  it('honours namespace, high resolution and tags as dimensions', async () => {
    hub.configure(
      [
        cwEndpoint('t.example.com/h', { namespace: 'Shop', highResolution: true, tagsAsDimensions: true }, [
          'env:prod',
          'critical',
        ]),
      ],
      [],
    );
    hub.result(result('t.example.com/h', true));
    await waitFor(() => cw.puts.length === 1, { timeoutMs: 5000, message: 'put' });
    const d = cw.puts[0]!.MetricData[0]!;
    expect(cw.puts[0]!.Namespace).toBe('Shop');
    expect(d.StorageResolution).toBe(1);
    expect(d.Dimensions).toEqual([
      { Name: 'Endpoint', Value: 't.example.com/h' },
      { Name: 'env', Value: 'prod' },
      { Name: 'critical', Value: 'true' },
    ]);
  });

  it('puts one idempotent alarm per (endpoint, definition): Minimum of Success < 1', async () => {
    const alarm = {
      evaluationPeriods: 3,
      periodSeconds: 60,
      alarmActions: ['arn:aws:sns:eu-west-1:1:page'],
      okActions: [],
    };
    const ep = cwEndpoint('pay.example.com/health', { alarm });
    hub.configure([ep], []);
    hub.configure([ep], []);
    await waitFor(() => cw.alarmPuts.length === 1, { timeoutMs: 5000, message: 'alarm put' });
    expect(cw.violations).toEqual([]);
    expect(cw.alarmPuts[0]).toMatchObject({
      AlarmName: 'watcher-pay.example.com/health',
      Namespace: 'Watcher',
      MetricName: 'Success',
      Dimensions: [{ Name: 'Endpoint', Value: 'pay.example.com/health' }],
      Statistic: 'Minimum',
      Period: 60,
      EvaluationPeriods: 3,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      AlarmActions: ['arn:aws:sns:eu-west-1:1:page'],
    });
    expect(cw.http.requests[0]!.headers['x-amz-target']).toBe('GraniteServiceVersion20100801.PutMetricAlarm');
    hub.configure([{ ...ep, hash: 'changed' }], []);
    await waitFor(() => cw.alarmPuts.length === 2, { timeoutMs: 5000, message: 'updated alarm put' });
  });

  it('sends state changes to EventBridge: data_* fields, templated details, ≤ 10 entries a request', async () => {
    const ep = (i: number) =>
      endpoint(`svc-${i}.example.com/health`, {
        postService: 'aws-cloudwatch',
        aws: aws({
          dataSource: 'mixsig.fabricsounds.com/health',
          dataDetailType: 'type1',
          dataDetailsJson: { status: '{status}', app: '{app}' },
          dataResources: ['health'],
        }),
      });
    hub.configure(
      Array.from({ length: 25 }, (_, i) => ep(i)),
      [],
    );
    const changes = Array.from({ length: 25 }, (_, i) => change(`svc-${i}.example.com/health`, 'DOWN', 'UP'));
    for (const c of changes) hub.stateChange(c);
    await waitFor(() => eb.entries.length === 25, { timeoutMs: 5000, message: '25 entries' });
    expect(eb.violations).toEqual([]);
    expect(Math.max(...eb.requestSizes)).toBeLessThanOrEqual(10);
    expect(eb.http.requests[0]!.headers['x-amz-target']).toBe('AWSEvents.PutEvents');
    const e = eb.entries[0]!;
    expect(e).toMatchObject({
      Source: 'mixsig.fabricsounds.com/health',
      DetailType: 'type1',
      Resources: ['health'],
    });
    expect(e.Time).toBe(changes[0]!.at / 1000);
    expect(JSON.parse(e.Detail)).toEqual({
      status: 'ok',
      app: '',
      endpoint: 'svc-0.example.com/health',
      state: 'UP',
      previous: 'DOWN',
      reason: null,
      suppressed: false,
      event_id: changes[0]!.id,
      worker: 'w1',
      at: new Date(changes[0]!.at).toISOString(),
    });
  });

  it('resends entries EventBridge reports failed, and only those', async () => {
    hub.configure(
      ['a', 'b', 'c'].map((n) => endpoint(n, { postService: 'aws-cloudwatch', aws: aws() })),
      [],
    );
    eb.failEntries((e) => JSON.parse(e.Detail).endpoint === 'b', 2);
    for (const n of ['a', 'b', 'c']) hub.stateChange(change(n, 'UP', 'DOWN'));
    await waitFor(() => eb.entries.length === 3, { timeoutMs: 5000, message: 'all three accepted' });
    expect(
      eb
        .details()
        .map((d) => d.endpoint)
        .sort(),
    ).toEqual(['a', 'b', 'c']);
    // The double records a request before its answer reaches the sink, which counts on the answer.
    await waitFor(async () => (await counter(metrics, 'sinkSent', 'eventbridge:eu-west-1')) === 3, {
      timeoutMs: 5000,
      message: 'three entries counted as sent',
    });
    expect(eb.http.requests.length).toBe(3);
  });

  it('uses the endpoint aws_key / aws_secret / aws_region when given', async () => {
    const cw2 = await CloudWatchDouble.start({ accessKeyId: 'AKIDENDPOINT0002', region: 'ap-south-1' });
    try {
      hub.configure(
        [
          cwEndpoint('k.example.com/h', {
            region: 'ap-south-1',
            accessKeyId: 'AKIDENDPOINT0002',
            secretAccessKey: 'endpoint-secret-xyz',
          }),
        ],
        [],
      );
      // the env endpoint URL applies to every region; route this one to the second double
      env.AWS_ENDPOINT_URL_CLOUDWATCH = cw2.url;
      hub.result(result('k.example.com/h', true));
      await waitFor(() => cw2.puts.length === 1, {
        timeoutMs: 5000,
        message: 'put signed with the endpoint key',
      });
      expect(cw2.violations).toEqual([]);
      expect(hub.stats().map((s) => s.sink)).toContain('cloudwatch:ap-south-1');
    } finally {
      await cw2.close();
    }
  });

  it('sends self events to EventBridge with the self block data_source', async () => {
    hub.configure(
      [],
      [
        {
          file: 'x.yml',
          sinks: endpoint('self', {
            postService: 'aws-cloudwatch',
            aws: aws({ dataSource: 'watcher.fabricsounds.com' }),
          }).sinks,
        },
      ],
    );
    hub.selfEvent({
      kind: 'scaling_limit_hit',
      at: Date.now(),
      worker: 'w2',
      message: '12 jobs waiting',
      details: { waiting: 12 },
    });
    await waitFor(() => eb.entries.length === 1, { timeoutMs: 5000, message: 'self entry' });
    expect(eb.entries[0]).toMatchObject({
      Source: 'watcher.fabricsounds.com',
      DetailType: 'Watcher Self Event',
    });
    expect(JSON.parse(eb.entries[0]!.Detail)).toMatchObject({
      kind: 'scaling_limit_hit',
      worker: 'w2',
      details: { waiting: 12 },
    });
  });
});
