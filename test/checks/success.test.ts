import { describe, expect, test } from 'vitest';
import { captureValues, compare, evaluate, getPath, needsJson } from '../../src/checks/success.js';
import type { CompareOp, SuccessTest } from '../../src/model/endpoint.js';
import { spec } from './spec.js';

const BODY = JSON.stringify({
  status: 'ok',
  db: { latency_ms: 12 },
  tags: ['a', 'b'],
  n: '42',
  nothing: null,
});

describe('compare', () => {
  const cases: Array<[unknown, CompareOp, unknown, boolean]> = [
    ['ok', '==', 'ok', true],
    ['ok', '==', 'degraded', false],
    [200, '==', '200', true],
    [true, '==', 'true', true],
    [{ a: 1 }, '==', { a: 1 }, true],
    [undefined, '==', 'x', false],
    ['ok', '!=', 'degraded', true],
    ['ok', '!=', 'ok', false],
    [undefined, '!=', 'ok', false],
    [12, '<', 250, true],
    [300, '<', 250, false],
    ['12', '<', 250, true],
    [250, '<=', 250, true],
    [251, '<=', 250, false],
    [5, '>', 4, true],
    [4, '>', 4, false],
    [4, '>=', 4, true],
    ['abc', '<', 3, false],
    [null, '<', 3, false],
    ['hello world', 'contains', 'world', true],
    ['hello', 'contains', 'world', false],
    [['a', 'b'], 'contains', 'b', true],
    [['a', 'b'], 'contains', 'c', false],
    [5, 'contains', 5, false],
    ['v1.2.3', 'matches', '^v1\\.', true],
    ['v2.0.0', 'matches', '^v1\\.', false],
    ['x', 'matches', '([', false],
    ['x', 'exists', true, true],
    [null, 'exists', true, true],
    [undefined, 'exists', true, false],
    [undefined, 'exists', false, true],
    ['x', 'exists', false, false],
  ];
  test.each(cases)('%j %s %j -> %s', (a, op, b, want) => {
    expect(compare(a, op, b)).toBe(want);
  });
});

describe('getPath / captureValues', () => {
  const json = JSON.parse(BODY);
  test('dotted paths, array indexes, missing', () => {
    expect(getPath(json, 'status')).toBe('ok');
    expect(getPath(json, 'db.latency_ms')).toBe(12);
    expect(getPath(json, 'tags.1')).toBe('b');
    expect(getPath(json, 'db.missing')).toBeUndefined();
    expect(getPath(json, 'status.length')).toBeUndefined();
    expect(getPath(json, 'nothing')).toBeNull();
  });
  test('values are stringified leaves; missing paths are left out', () => {
    expect(captureValues(json, ['status', 'db.latency_ms', 'db', 'nothing', 'gone'])).toEqual({
      status: 'ok',
      'db.latency_ms': '12',
      db: '{"latency_ms":12}',
      nothing: 'null',
    });
  });
});

describe('evaluate', () => {
  const run = (tests: SuccessTest[], status = 200, body: string | null = BODY, latency = 5, follow = true) =>
    evaluate(spec('http://x/', { successTests: tests, followRedirects: follow }), status, body, latency);

  test('default status rule: 2xx passes, others fail with status N', () => {
    expect(run([], 200)).toMatchObject({ ok: true, error: null });
    expect(run([], 204)).toMatchObject({ ok: true });
    expect(run([], 503)).toMatchObject({ ok: false, error: 'status 503' });
    expect(run([], 404)).toMatchObject({ ok: false, error: 'status 404' });
    expect(run([], 302)).toMatchObject({ ok: false, error: 'status 302' });
  });
  test('3xx passes by default when redirects are not followed', () => {
    expect(run([], 301, null, 5, false)).toMatchObject({ ok: true });
  });
  test('status_code tests replace the default rule', () => {
    expect(run([{ kind: 'status_code', op: '==', value: 503 }], 503)).toMatchObject({ ok: true });
    expect(run([{ kind: 'status_code', op: '==', value: 200 }], 503)).toMatchObject({
      ok: false,
      error: 'status 503',
    });
    expect(run([{ kind: 'status_code', op: '==', value: '2xx' }], 204)).toMatchObject({ ok: true });
    expect(run([{ kind: 'status_code', op: '==', value: '2xx' }], 500)).toMatchObject({
      error: 'status 500',
    });
    expect(run([{ kind: 'status_code', op: '<', value: 500 }], 404)).toMatchObject({ ok: true });
  });
  test('json test failure reads like the spec', () => {
    const r = run([{ kind: 'json', key: 'status', op: '==', value: 'ok' }], 200, '{"status":"degraded"}');
    expect(r).toMatchObject({ ok: false, error: 'test: status == "degraded", expected "ok"' });
  });
  test('comparison, missing key and exists reasons', () => {
    expect(run([{ kind: 'json', key: 'db.latency_ms', op: '<', value: 10 }]).error).toBe(
      'test: db.latency_ms == 12, expected < 10',
    );
    expect(run([{ kind: 'json', key: 'db.conn', op: '<', value: 10 }]).error).toBe(
      'test: db.conn missing, expected < 10',
    );
    expect(run([{ kind: 'json', key: 'db.conn', op: 'exists', value: true }]).error).toBe(
      'test: db.conn missing, expected exists',
    );
    expect(run([{ kind: 'json', key: 'status', op: 'exists', value: false }]).error).toBe(
      'test: status == "ok", expected absent',
    );
  });
  test('latency test', () => {
    expect(run([{ kind: 'latency_ms', op: '<', value: 800 }], 200, null, 950.4).error).toBe(
      'test: latency_ms == 950, expected < 800',
    );
    expect(run([{ kind: 'latency_ms', op: '<', value: 800 }], 200, null, 10).ok).toBe(true);
  });
  test('all tests must hold; the first failure is reported', () => {
    const tests: SuccessTest[] = [
      { kind: 'status_code', op: '==', value: 200 },
      { kind: 'json', key: 'status', op: '==', value: 'ok' },
      { kind: 'json', key: 'tags', op: 'contains', value: 'z' },
      { kind: 'json', key: 'n', op: '>', value: 100 },
    ];
    expect(run(tests).error).toBe('test: tags == ["a","b"], expected contains "z"');
  });
  test('invalid JSON fails with a short reason that does not echo the body', () => {
    const r = run(
      [{ kind: 'json', key: 'status', op: '==', value: 'ok' }],
      200,
      '{"status": secret-token-123',
    );
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/^json: /);
    expect(r.error).not.toContain('secret');
    expect(run([{ kind: 'json', key: 'a', op: 'exists', value: true }], 200, '').error).toBe(
      'json: empty body',
    );
  });
  test('status failure wins over json failure; values still captured from an error body', () => {
    const r = evaluate(spec('http://x/', { responseJsonValues: ['status'] }), 503, '{"status":"down"}', 3);
    expect(r).toEqual({ ok: false, error: 'status 503', values: { status: 'down' } });
  });
  test('long actual values are cut', () => {
    const r = run(
      [{ kind: 'json', key: 'status', op: '==', value: 'ok' }],
      200,
      JSON.stringify({ status: 'x'.repeat(500) }),
    );
    expect(r.error!.length).toBeLessThan(120);
  });
  test('needsJson', () => {
    expect(needsJson(spec('http://x/'))).toBe(false);
    expect(
      needsJson(spec('http://x/', { successTests: [{ kind: 'status_code', op: '==', value: 200 }] })),
    ).toBe(false);
    expect(needsJson(spec('http://x/', { responseJsonValues: ['a'] }))).toBe(true);
    expect(
      needsJson(spec('http://x/', { successTests: [{ kind: 'json', key: 'a', op: 'exists', value: true }] })),
    ).toBe(true);
  });
});
