import { describe, expect, it } from 'vitest';
import { alarmName } from '../../src/sinks/cloudwatch-alarms.js';
import { buildMetricRequests, dimensionsFor } from '../../src/sinks/cloudwatch-metrics.js';
import { entrySize } from '../../src/sinks/eventbridge.js';
import { retryAfterFromHeaders } from '../../src/sinks/http.js';
import { redactingLogger, SecretSet } from '../../src/sinks/redact.js';
import { renderTemplate } from '../../src/sinks/template.js';
import { isAlertWorthy } from '../../src/sinks/template-values.js';
import { postUrl } from '../../src/sinks/webhook.js';
import { captureLogger, change } from './fixtures.js';

describe('templates', () => {
  it('replaces {name} in string leaves at any depth; unknown names render empty', () => {
    const out = renderTemplate(
      {
        title: '{endpoint} {state}',
        n: 3,
        tags: ['status:{status}', 'x:{missing}'],
        nested: { a: '{db.latency_ms}' },
        json: '{"k":1}',
      },
      { endpoint: 'e', state: 'DOWN', status: 'ok', 'db.latency_ms': '12' },
    );
    expect(out).toEqual({
      title: 'e DOWN',
      n: 3,
      tags: ['status:ok', 'x:'],
      nested: { a: '12' },
      json: '{"k":1}',
    });
  });
});

describe('retry headers', () => {
  it('reads X-RateLimit-Reset seconds and Retry-After seconds or date; the longer wins', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(retryAfterFromHeaders({ 'x-ratelimit-reset': '7' }, now)).toBe(7000);
    expect(retryAfterFromHeaders({ 'retry-after': '2' }, now)).toBe(2000);
    expect(retryAfterFromHeaders({ 'retry-after': new Date(now + 5000).toUTCString() }, now)).toBe(5000);
    expect(retryAfterFromHeaders({ 'x-ratelimit-reset': '1', 'retry-after': '3' }, now)).toBe(3000);
    expect(retryAfterFromHeaders({ 'retry-after': 'soon' }, now)).toBeUndefined();
  });
});

describe('payload helpers', () => {
  it('attaches post_api_key as a URL parameter, URL-encoded, keeping an existing query', () => {
    expect(
      postUrl('https://app.datadoghq.com/api/v1/events', { paramName: 'api_key', paramValue: 'a b&c' }),
    ).toBe('https://app.datadoghq.com/api/v1/events?api_key=a+b%26c');
    expect(postUrl('https://h/x?y=1', { paramName: 'k', paramValue: 'v' })).toBe('https://h/x?y=1&k=v');
  });

  it('sanitizes alarm names', () => {
    expect(alarmName('shop.example.com:8443/health?x=1 y')).toBe(
      'watcher-shop.example.com:8443/health-x-1-y',
    );
    expect(alarmName('a'.repeat(400))).toHaveLength(255);
  });

  it('caps dimensions at 30 and turns bare tags into tag=true', () => {
    const dims = dimensionsFor(
      'e',
      Array.from({ length: 40 }, (_, i) => `k${i}:v`),
      true,
    );
    expect(dims).toHaveLength(30);
    expect(dimensionsFor('e', ['critical'], true)[1]).toEqual({ Name: 'critical', Value: 'true' });
    expect(dimensionsFor('e', ['critical'], false)).toHaveLength(1);
  });

  it('merges equal values into Counts and keeps requests within 1000 datums', () => {
    const items = Array.from({ length: 1200 }, (_, i) => ({
      namespace: 'W',
      dimensions: [{ Name: 'Endpoint', Value: `e${i}` }],
      timestamp: Date.UTC(2026, 0, 1),
      success: 1 as const,
      latencyMs: 5,
      highResolution: false,
    }));
    items.push({ ...items[0]!, latencyMs: 5 });
    const reqs = buildMetricRequests(items);
    expect(reqs.every((r) => r.data.length <= 1000)).toBe(true);
    const total = reqs.reduce((n, r) => n + r.data.length, 0);
    expect(total).toBe(2400);
    const e0 = reqs
      .flatMap((r) => r.data)
      .find((d) => d.MetricName === 'Latency' && d.Dimensions?.[0]?.Value === 'e0');
    expect(e0).toMatchObject({ Values: [5], Counts: [2] });
  });

  it('sizes EventBridge entries as the service does', () => {
    expect(
      entrySize({ Source: 'ab', DetailType: 'c', Detail: '{}', Resources: ['r'], Time: new Date() }),
    ).toBe(14 + 2 + 1 + 2 + 1);
  });

  it('sends no alert for the first verdict or a change to UNKNOWN', () => {
    expect(isAlertWorthy(change('e', 'UNKNOWN', 'UP'))).toBe(false);
    expect(isAlertWorthy(change('e', 'UP', 'UNKNOWN'))).toBe(false);
    expect(isAlertWorthy(change('e', 'UNKNOWN', 'DOWN'))).toBe(true);
    expect(isAlertWorthy(change('e', 'DOWN', 'UP'))).toBe(true);
  });
});

describe('redaction', () => {
  it('masks secrets (and their URL-encoded form) in messages, fields and child bindings', () => {
    const secrets = new SecretSet();
    secrets.add('s3cr3t/key+1');
    secrets.add('ab'); // too short to be treated as a secret
    const log = captureLogger();
    const red = redactingLogger(log, secrets);
    red
      .child({ url: 'https://h/?k=s3cr3t%2Fkey%2B1' })
      .warn({ err: new Error('bad s3cr3t/key+1'), n: 1 }, 'x s3cr3t/key+1 ab');
    const text = log.text();
    expect(text).not.toContain('s3cr3t');
    expect(text).toContain('ab');
    expect(log.lines[0]!.obj).toMatchObject({ n: 1, err: 'Error: bad [redacted]' });
  });
});
