import { describe, expect, it } from 'vitest';
import { normalizeEndpoint, parseFile, type RawEndpoint } from '../../src/config/index.js';

const TEXT = `
defaults:
  post_api_key: { param_name: api_key, param_value: "\${DD_API_KEY}" }
  post_endpoint: https://app.datadoghq.com/api/v1/events
api.example.com/health:
  cron_schedule: "*/10 * * * * *"
  headers: { B: "2", A: "1" }
  success_test:
    - { status_code: 200 }
    - { key: status, value: ok }
`;
const ENV = { DD_API_KEY: 'key-aaaa' };

function raw(): RawEndpoint {
  const out = parseFile(TEXT, 'n.yml', { env: ENV });
  expect(out.problems).toEqual([]);
  return out.raw[0]!;
}

function ok(r: ReturnType<typeof normalizeEndpoint>) {
  if (!('endpoint' in r)) throw new Error(JSON.stringify(r.problems));
  return r.endpoint;
}

describe('normalizeEndpoint', () => {
  it('gives the same Endpoint as parseFile, also after a JSON round trip (as through etcd)', () => {
    const fromFile = parseFile(TEXT, 'n.yml', { env: ENV }).endpoints[0]!;
    const stored: RawEndpoint = JSON.parse(JSON.stringify(raw()));
    expect(ok(normalizeEndpoint(stored, ENV))).toEqual(fromFile);
  });

  it('is deterministic: same input, same Endpoint and hash', () => {
    const a = ok(normalizeEndpoint(raw(), ENV));
    const b = ok(normalizeEndpoint(raw(), ENV));
    expect(a).toEqual(b);
    expect(a.hash).toBe(b.hash);
    expect(a.hash).toMatch(/^[0-9a-f]{32}$/);
  });

  it('hash ignores key order, file and line; changes with behaviour and with the environment', () => {
    const base = raw();
    const h = ok(normalizeEndpoint(base, ENV)).hash;
    const reordered: RawEndpoint = {
      ...base,
      file: 'other.yml',
      line: 99,
      spec: Object.fromEntries(Object.entries(base.spec).reverse()),
    };
    expect(ok(normalizeEndpoint(reordered, ENV)).hash).toBe(h);
    const changed: RawEndpoint = { ...base, spec: { ...base.spec, timeout: '2s' } };
    expect(ok(normalizeEndpoint(changed, ENV)).hash).not.toBe(h);
    expect(ok(normalizeEndpoint(base, { DD_API_KEY: 'key-bbbb' })).hash).not.toBe(h);
  });

  it('expands with the worker environment; a missing variable is a problem naming it', () => {
    expect(ok(normalizeEndpoint(raw(), { DD_API_KEY: 'worker-key' })).sinks.postApiKey?.paramValue).toBe(
      'worker-key',
    );
    const r = normalizeEndpoint(raw(), {});
    expect('problems' in r && r.problems.map((p) => [p.code, p.file, p.line])).toEqual([
      ['CFG_ENV_MISSING', 'n.yml', 5],
    ]);
    expect('problems' in r && r.problems[0]!.message).toContain('DD_API_KEY');
  });

  it('validates a raw spec against the schema (a spec from etcd is not trusted)', () => {
    const r = normalizeEndpoint(
      { name: 'x.example.com', file: 'f.yml', line: 3, spec: { interval: '5s', retries: 2 } },
      {},
    );
    expect('problems' in r && r.problems.map((p) => p.code)).toEqual(['CFG_UNKNOWN_FIELD']);
    const r2 = normalizeEndpoint({ name: 'x.example.com', file: 'f.yml', line: 3, spec: {} }, {});
    expect('problems' in r2 && r2.problems.map((p) => p.code)).toEqual(['CFG_SCHEDULE_NONE']);
  });
});

describe('confirm', () => {
  const text = (body: string) => `defaults:\n  confirm: 1\na.example.com/h:\n  interval: 5s\n${body}`;
  it('is off (absent) by default, set per endpoint or from defaults, 0 overrides defaults', () => {
    const plain = parseFile('a.example.com/h:\n  interval: 5s\n', 'c.yml', { env: {} });
    expect(plain.endpoints[0]!.confirm).toBeUndefined();
    const inherited = parseFile(text(''), 'c.yml', { env: {} });
    expect(inherited.endpoints[0]!.confirm).toBe(1);
    const off = parseFile(text('  confirm: 0\n'), 'c.yml', { env: {} });
    expect(off.endpoints[0]!.confirm).toBeUndefined();
    expect(off.endpoints[0]!.hash).toBe(plain.endpoints[0]!.hash);
  });
  it('refuses values other than 0 and 1', () => {
    const bad = parseFile('a.example.com/h:\n  interval: 5s\n  confirm: 2\n', 'c.yml', { env: {} });
    expect(bad.endpoints).toEqual([]);
    expect(bad.problems.map((p) => p.message).join('\n')).toMatch(/confirm/);
  });
});
