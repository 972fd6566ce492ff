// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are the ${VAR} syntax under test
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFile } from '../../src/config/index.js';
import type { Endpoint } from '../../src/model/endpoint.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/config');
const read = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const byName = (eps: Endpoint[], name: string) => {
  const e = eps.find((x) => x.name === name);
  if (!e) throw new Error(`no endpoint ${name}`);
  return e;
};

describe('SPEC.md example (verbatim)', () => {
  const text = read('valid-spec-example.yml');
  const env = { DD_API_KEY: 'dd-key-from-env-123' };
  const out = parseFile(text, 'spec.yml', { env });

  // The fixture is a verbatim copy of the example; checked when the spec is at hand.
  const specFile = ['../../SPEC.md', '../../docs/SPEC.md', '../../../shared/SPEC.md']
    .map((p) => join(import.meta.dirname, p))
    .find((p) => existsSync(p));
  it.skipIf(!specFile)('is the example of SPEC.md', () => {
    expect(readFileSync(specFile!, 'utf8').includes(text.trimEnd())).toBe(true);
  });

  it('loads without problems', () => {
    expect(out.problems).toEqual([]);
    expect(out.endpoints.map((e) => e.name)).toEqual([
      'www.fabricsounds.com/health',
      'mixsig.fabricsounds.com/health',
    ]);
  });

  it('normalises the first endpoint (original success_test form, defaults merged)', () => {
    const e = byName(out.endpoints, 'www.fabricsounds.com/health');
    expect(e).toMatchObject({
      id: 'www.fabricsounds.com/health',
      url: 'https://www.fabricsounds.com/health',
      method: 'GET',
      headers: {},
      body: null,
      timeoutMs: 5000,
      connectTimeoutMs: 5000,
      followRedirects: true,
      maxRedirects: 5,
      tlsVerify: true,
      keepalive: false,
      maxBodyBytes: 1024 * 1024,
      successTests: [{ kind: 'json', key: 'status', op: '==', value: 'ok' }],
      responseJsonValues: ['status'],
      file: 'spec.yml',
      line: 10,
      schedule: { kind: 'cron', expr: '* * * * *', timezone: 'UTC' },
      alert: { failureThreshold: 3, successThreshold: 1 },
      dependsOn: [],
      tags: [],
    });
    expect(e.sinks).toEqual({
      postEndpoint: 'https://app.datadoghq.com/api/v1/events',
      postApiKey: { paramName: 'api_key', paramValue: 'dd-key-from-env-123' },
      postJsonInfo: { title: 'fabricsounds health', text: 'health {status}', tags: ['status:{status}'] },
      postService: null,
      aws: null,
      datadog: null,
    });
    expect(e.hash).toMatch(/^[0-9a-f]{32}$/);
  });

  it('normalises the second endpoint (extended success_test, CloudWatch)', () => {
    const e = byName(out.endpoints, 'mixsig.fabricsounds.com/health');
    expect(e.url).toBe('http://mixsig.fabricsounds.com/health');
    expect(e.line).toBe(25);
    expect(e.schedule).toEqual({ kind: 'cron', expr: '*/10 * * * * *', timezone: 'UTC' });
    expect(e.responseJsonValues).toEqual(['status', 'app', 'version']);
    expect(e.successTests).toEqual([
      { kind: 'status_code', op: '==', value: 200 },
      { kind: 'json', key: 'status', op: '==', value: 'ok' },
      { kind: 'json', key: 'db.latency_ms', op: '<', value: 250 },
      { kind: 'latency_ms', op: '<', value: 800 },
    ]);
    expect(e.sinks.postService).toBe('aws-cloudwatch');
    expect(e.sinks.aws).toEqual({
      region: 'us-east-1',
      accessKeyId: null,
      secretAccessKey: null,
      namespace: 'Watcher',
      highResolution: false,
      tagsAsDimensions: false,
      dataSource: 'mixsig.fabricsounds.com/health',
      dataDetailType: 'type1',
      dataDetailsJson: { status: '{status}', app: '{app}', version: '{version}' },
      dataResources: ['health'],
      alarm: null,
    });
    // defaults merged under every endpoint of the file
    expect(e.sinks.postApiKey).toEqual({ paramName: 'api_key', paramValue: 'dd-key-from-env-123' });
    expect(e.alert).toEqual({ failureThreshold: 3, successThreshold: 1 });
  });

  it('keeps self apart, with sink fields only', () => {
    expect(out.self?.file).toBe('spec.yml');
    expect(out.self?.sinks.postService).toBe('aws-cloudwatch');
    expect(out.self?.sinks.aws?.dataSource).toBe('watcher.fabricsounds.com');
    expect(out.self?.sinks.postEndpoint).toBeNull(); // defaults are not merged into self
  });

  it('keeps ${VAR} unexpanded in raw (what etcd stores) and reports the expanded value as a secret', () => {
    const raw = out.raw.find((r) => r.name === 'www.fabricsounds.com/health')!;
    expect(raw.line).toBe(10);
    expect((raw.spec.post_api_key as Record<string, unknown>).param_value).toBe('${DD_API_KEY}');
    expect(raw.spec.cron_schedule).toBe('* * * * *');
    expect(JSON.stringify(out.raw)).not.toContain('dd-key-from-env-123');
    expect(out.secrets).toContain('dd-key-from-env-123');
  });
});

describe('every field (valid-full.yml)', () => {
  const env = {
    WATCHER_TEST_TOKEN: 'tok-123456',
    WATCHER_TEST_AWS_KEY: 'AKIAEXAMPLE',
    WATCHER_TEST_DD_KEY: 'dd-999999',
    DD_API_KEY: 'dd-default-key',
    DD_SITE: 'us5.datadoghq.com',
  };
  const out = parseFile(read('valid-full.yml'), 'full.yml', { env });

  it('loads without problems', () => {
    expect(out.problems).toEqual([]);
    expect(out.endpoints).toHaveLength(3);
  });

  it('fills every field of the first endpoint', () => {
    const e = byName(out.endpoints, 'api.example.com:8443/v1/health?deep=1');
    expect(e).toMatchObject({
      url: 'https://api.example.com:8443/v1/health?deep=1',
      method: 'POST',
      headers: {
        'user-agent': 'watcher-test',
        authorization: 'Bearer tok-123456',
        'x-count': '5',
        'content-type': 'application/json',
      },
      body: '{"probe":true}',
      timeoutMs: 3000,
      connectTimeoutMs: 500,
      followRedirects: false,
      maxRedirects: 2,
      tlsVerify: false,
      keepalive: true,
      maxBodyBytes: 512 * 1024,
      responseJsonValues: ['status'],
      schedule: { kind: 'interval', everyMs: 90_000 },
      alert: { failureThreshold: 2, successThreshold: 3 },
      dependsOn: ['db.example.com/health'],
      tags: ['team:core', 'tier:1'],
    });
    expect(e.successTests).toEqual([
      { kind: 'status_code', op: '<', value: 300 },
      { kind: 'json', key: 'version', op: 'matches', value: '^2\\.' },
      { kind: 'json', key: 'features', op: 'contains', value: 'sse' },
      { kind: 'json', key: 'db.ok', op: 'exists', value: true },
      { kind: 'latency_ms', op: '<=', value: 750 },
    ]);
    expect(e.sinks).toEqual({
      postEndpoint: 'https://hooks.example.com/watcher',
      postApiKey: { paramName: 'token', paramValue: 'tok-123456' },
      postJsonInfo: { title: 'api {status}' },
      postService: 'aws-cloudwatch',
      aws: {
        region: 'eu-west-1',
        accessKeyId: 'AKIAEXAMPLE',
        secretAccessKey: '',
        namespace: 'Watcher/Test',
        highResolution: true,
        tagsAsDimensions: true,
        dataSource: 'watcher.api',
        dataDetailType: 'health',
        dataDetailsJson: { status: '{status}' },
        dataResources: ['health'],
        alarm: {
          evaluationPeriods: 5,
          periodSeconds: 120,
          alarmActions: ['arn:aws:sns:eu-west-1:123456789012:ops'],
          okActions: [],
        },
      },
      datadog: {
        apiKey: 'dd-default-key',
        site: 'us5.datadoghq.com',
        url: 'http://127.0.0.1:8126',
        checkName: 'watcher.endpoint',
        tags: ['service:api'],
      },
    });
  });

  it('cron with seconds and a time zone, $${ escape, numeric durations and sizes', () => {
    const e = byName(out.endpoints, 'db.example.com/health');
    expect(e.url).toBe('http://db.example.com/health');
    expect(e.schedule).toEqual({ kind: 'cron', expr: '0 */5 9-17 * * 1-5', timezone: 'Europe/Paris' });
    expect(e.body).toBe('ping ${NOT_EXPANDED}');
    expect(e.maxBodyBytes).toBe(2048);
    expect(e.timeoutMs).toBe(1500);
    expect(e.connectTimeoutMs).toBe(1500);
    expect(e.sinks.datadog).toEqual({
      apiKey: 'dd-999999',
      site: 'datadoghq.eu',
      url: null,
      checkName: 'custom.check',
      tags: [],
    });
    expect(e.successTests).toEqual([{ kind: 'status_code', op: '<', value: 400 }]);
  });

  it('an endpoint with only a schedule gets every default', () => {
    const e = byName(out.endpoints, 'minimal.example.com');
    expect(e.url).toBe('http://minimal.example.com');
    expect(e.schedule).toEqual({ kind: 'interval', everyMs: 10_000 });
    expect(e.headers).toEqual({ 'user-agent': 'watcher-test' });
    expect(e.tags).toEqual(['env:test']);
    expect(e.sinks).toEqual({
      postEndpoint: null,
      postApiKey: null,
      postJsonInfo: null,
      postService: null,
      aws: null,
      datadog: null,
    });
  });

  it('self with an empty datadog block uses DD_API_KEY and DD_SITE', () => {
    expect(out.self?.sinks.postEndpoint).toBe('https://hooks.example.com/self');
    expect(out.self?.sinks.datadog).toMatchObject({ apiKey: 'dd-default-key', site: 'us5.datadoghq.com' });
  });

  it('collects every expanded value as a secret', () => {
    expect(new Set(out.secrets)).toEqual(
      new Set(['tok-123456', 'AKIAEXAMPLE', 'dd-999999', 'dd-default-key']),
    );
  });
});

describe('defaults merge rules', () => {
  const text = `
defaults:
  interval: 30s
  headers: { a: "1", b: "2" }
  alert: { failure_threshold: 4 }
  tags: [x, y]
  success_test: { key: status, value: ok }
one.example.com:
  cron_schedule: "*/5 * * * *"
  headers: { b: "3" }
  alert: { success_threshold: 2 }
  tags: [z]
  success_test: [{ status_code: 204 }]
two.example.com:
`;
  const out = parseFile(text, 'm.yml', { env: {} });

  it('merges mappings key by key, replaces lists, and an own schedule replaces the default one', () => {
    expect(out.problems).toEqual([]);
    const one = byName(out.endpoints, 'one.example.com');
    expect(one.schedule).toEqual({ kind: 'cron', expr: '*/5 * * * *', timezone: 'UTC' });
    expect(one.headers).toEqual({ a: '1', b: '3' });
    expect(one.alert).toEqual({ failureThreshold: 4, successThreshold: 2 });
    expect(one.tags).toEqual(['z']);
    expect(one.successTests).toEqual([{ kind: 'status_code', op: '==', value: 204 }]);
  });

  it('an empty endpoint takes everything from defaults', () => {
    const two = byName(out.endpoints, 'two.example.com');
    expect(two.schedule).toEqual({ kind: 'interval', everyMs: 30_000 });
    expect(two.successTests).toEqual([{ kind: 'json', key: 'status', op: '==', value: 'ok' }]);
    expect(two.tags).toEqual(['x', 'y']);
  });

  it('empty and comment-only files are valid and empty', () => {
    for (const t of ['', '# nothing yet\n', '---\n']) {
      expect(parseFile(t, 'e.yml', { env: {} })).toMatchObject({ endpoints: [], problems: [], self: null });
    }
  });

  it('a problem in one endpoint rejects the whole file, and all problems of the file are reported', () => {
    const bad = parseFile(
      'a.example.com:\n  interval: 5s\nb.example.com:\n  interval: 5s\n  timout: 1s\nc.example.com:\n  retries: 3\n',
      'b.yml',
      { env: {} },
    );
    expect(bad.endpoints).toEqual([]);
    expect(bad.problems.map((p) => [p.line, p.code])).toEqual([
      [5, 'CFG_UNKNOWN_FIELD'],
      [7, 'CFG_UNKNOWN_FIELD'],
    ]);
  });
});

describe('endpoints.d examples', () => {
  const ROOT = join(import.meta.dirname, '../..');
  const cases: [string, number, Record<string, string>][] = [
    ['endpoints.d/local.yml', 3, {}],
    ['endpoints.d/examples/datadog.yml.example', 2, { DD_API_KEY: 'dd-example-key' }],
    ['endpoints.d/examples/cloudwatch.yml.example', 1, {}],
    ['endpoints.d/examples/probes.yml.example', 6, {}],
  ];
  it.each(cases)('%s is valid', (file, count, env) => {
    const out = parseFile(readFileSync(join(ROOT, file), 'utf8'), file, { env });
    expect(out.problems).toEqual([]);
    expect(out.endpoints).toHaveLength(count);
  });

  it('local.yml checks only this worker on 127.0.0.1:9464 and sends nothing outside', () => {
    const out = parseFile(readFileSync(join(ROOT, 'endpoints.d/local.yml'), 'utf8'), 'local.yml', {
      env: {},
    });
    for (const e of out.endpoints) {
      expect(e.url.startsWith('http://127.0.0.1:9464/')).toBe(true);
      expect(e.sinks).toEqual({
        postEndpoint: null,
        postApiKey: null,
        postJsonInfo: null,
        postService: null,
        aws: null,
        datadog: null,
      });
    }
    expect(out.self).toBeNull();
  });
});
