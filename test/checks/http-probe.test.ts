/**
 * The HTTP probe, run in-process through runCheck, against the local fault target: every fault is
 * a failed check with a stable reason, and nothing throws.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { clearIdleClients, closeKeepAliveAgents } from '../../src/checks/http/dispatchers.js';
import { runCheck } from '../../src/checks/run-check.js';
import type { CheckSpec } from '../../src/model/endpoint.js';
import { startTarget, type Target } from '../support/target.js';
import { spec } from './spec.js';

let target: Target;
let tlsTarget: Target;

beforeAll(async () => {
  [target, tlsTarget] = await Promise.all([startTarget(), startTarget({ tls: true })]);
});
afterAll(async () => {
  await closeKeepAliveAgents();
  clearIdleClients();
  await Promise.all([target?.close(), tlsTarget?.close()]);
});

const check = (s: CheckSpec) => runCheck(s, Date.now() - 5, 'w-test');
const jsonOk = { successTests: [{ kind: 'json' as const, key: 'status', op: '==' as const, value: 'ok' }] };

describe('http probe against the fault target', () => {
  test('/ok passes with values, timings and result fields', async () => {
    const scheduledAt = Date.now() - 5;
    const r = await runCheck(
      spec(`${target.url}/ok`, { id: 'ep-ok', responseJsonValues: ['status', 'db.latency_ms'], ...jsonOk }),
      scheduledAt,
      'w-test',
    );
    expect(r).toMatchObject({
      endpoint: 'ep-ok',
      scheduled_at: scheduledAt,
      ok: true,
      status_code: 200,
      error: null,
      values: { status: 'ok', 'db.latency_ms': '12' },
      worker: 'w-test',
    });
    expect(r.started_at).toBeGreaterThanOrEqual(scheduledAt);
    expect(r.duration_ms).toBeGreaterThan(0);
  });

  test('fresh connection: connect, firstByte and total timings', async () => {
    const r = await check(spec(`${target.url}/ok`));
    expect(r.timings?.connect).toBeGreaterThanOrEqual(0);
    expect(r.timings?.firstByte).toBeGreaterThanOrEqual(0);
    expect(r.timings?.total).toBe(r.duration_ms);
    // An IP literal needs no lookup.
    expect(r.timings?.dns).toBeUndefined();
  });

  test('dns phase is timed for a host name', async () => {
    const r = await check(spec(`http://localhost:${target.port}/ok`));
    expect(r.ok).toBe(true);
    expect(r.timings?.dns).toBeGreaterThanOrEqual(0);
    expect(r.timings?.connect).toBeGreaterThanOrEqual(0);
  });

  test('/degraded fails the json test with a readable reason', async () => {
    const r = await check(spec(`${target.url}/degraded`, jsonOk));
    expect(r).toMatchObject({
      ok: false,
      status_code: 200,
      error: 'test: status == "degraded", expected "ok"',
    });
  });

  test('/slow beyond the budget is a timeout', async () => {
    const r = await check(spec(`${target.url}/slow?ms=3000`, { timeoutMs: 300 }));
    expect(r).toMatchObject({ ok: false, status_code: null, error: 'timeout' });
    expect(r.duration_ms).toBeGreaterThanOrEqual(290);
    expect(r.duration_ms).toBeLessThan(1500);
  });

  test('/slow within the budget passes', async () => {
    const r = await check(spec(`${target.url}/slow?ms=50`, { timeoutMs: 2000 }));
    expect(r).toMatchObject({ ok: true, status_code: 200 });
  });

  test('/hang is a timeout', async () => {
    const r = await check(spec(`${target.url}/hang`, { timeoutMs: 300 }));
    expect(r).toMatchObject({ ok: false, error: 'timeout' });
  });

  test('/reset is a connection reset', async () => {
    const r = await check(spec(`${target.url}/reset`));
    expect(r).toMatchObject({ ok: false, status_code: null, error: 'connection reset' });
  });

  test('/big (5 MB) is body too large at the default 1 MiB, with or without JSON', async () => {
    expect(await check(spec(`${target.url}/big`))).toMatchObject({
      ok: false,
      status_code: 200,
      error: 'body too large',
    });
    expect(await check(spec(`${target.url}/big`, jsonOk))).toMatchObject({
      ok: false,
      error: 'body too large',
    });
  });

  test('a content-length above the limit fails before reading', async () => {
    const r = await check(spec(`${target.url}/ok`, { maxBodyBytes: 10 }));
    expect(r).toMatchObject({ ok: false, status_code: 200, error: 'body too large' });
  });

  test('/badjson with a json test fails with json: ...', async () => {
    const r = await check(spec(`${target.url}/badjson`, jsonOk));
    expect(r).toMatchObject({ ok: false, status_code: 200, error: 'json: unexpected token' });
  });

  test('/badjson without a json need passes (body not parsed)', async () => {
    expect(await check(spec(`${target.url}/badjson`))).toMatchObject({ ok: true });
  });

  test('/loop is too many redirects', async () => {
    const r = await check(spec(`${target.url}/loop`));
    expect(r).toMatchObject({ ok: false, error: 'too many redirects' });
  });

  test('redirect chain longer than maxRedirects is too many redirects', async () => {
    const r = await check(spec(`${target.url}/redirect`, { maxRedirects: 0 }));
    expect(r).toMatchObject({ ok: false, status_code: 302, error: 'too many redirects' });
  });

  test('/redirect is followed to /ok', async () => {
    const before = target.hits('/ok');
    const r = await check(spec(`${target.url}/redirect`, jsonOk));
    expect(r).toMatchObject({ ok: true, status_code: 200 });
    expect(target.hits('/ok')).toBe(before + 1);
  });

  test('/redirect not followed: the 302 is the answer', async () => {
    const before = target.hits('/ok');
    const r = await check(spec(`${target.url}/redirect`, { followRedirects: false }));
    expect(r).toMatchObject({ ok: true, status_code: 302 });
    expect(target.hits('/ok')).toBe(before);
  });

  test('/status/503 fails with status 503, values captured', async () => {
    const r = await check(spec(`${target.url}/status/503`, { responseJsonValues: ['status'] }));
    expect(r).toMatchObject({
      ok: false,
      status_code: 503,
      error: 'status 503',
      values: { status: 'code 503' },
    });
  });

  test('self-signed certificate fails with tls verify, passes without, with a tls phase', async () => {
    const bad = await check(spec(`${tlsTarget.url}/ok`));
    expect(bad).toMatchObject({ ok: false, status_code: null, error: 'tls: DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(bad.timings?.connect).toBeGreaterThanOrEqual(0);
    const good = await check(spec(`${tlsTarget.url}/ok`, { tlsVerify: false, ...jsonOk }));
    expect(good).toMatchObject({ ok: true, status_code: 200 });
    expect(good.timings?.tls).toBeGreaterThan(0);
    expect(good.timings?.firstByte).toBeGreaterThanOrEqual(0);
  });

  test('fresh checks on one origin keep their own TLS setting and timings (idle Clients are reused)', async () => {
    const before = tlsTarget.connections();
    const seq = [false, true, false, true];
    const results = [];
    for (const verify of seq) results.push(await check(spec(`${tlsTarget.url}/ok`, { tlsVerify: verify })));
    expect(results.map((r) => r.error)).toEqual([
      null,
      'tls: DEPTH_ZERO_SELF_SIGNED_CERT',
      null,
      'tls: DEPTH_ZERO_SELF_SIGNED_CERT',
    ]);
    for (const r of results) expect(r.timings?.connect).toBeGreaterThanOrEqual(0);
    expect(results[2]!.timings?.tls).toBeGreaterThan(0);
    // A handshake the client rejects is never counted as a connection by the server.
    expect(tlsTarget.connections()).toBe(before + 2);
  });

  test('keep-alive TLS with verify off reuses its connection', async () => {
    const before = tlsTarget.connections();
    for (let i = 0; i < 3; i++) {
      expect(await check(spec(`${tlsTarget.url}/ok`, { tlsVerify: false, keepalive: true }))).toMatchObject({
        ok: true,
      });
      await nextTurn();
    }
    expect(tlsTarget.connections()).toBe(before + 1);
  });

  test('connection refused', async () => {
    const port = await closedPort();
    const r = await check(spec(`http://127.0.0.1:${port}/ok`));
    expect(r).toMatchObject({ ok: false, status_code: null, error: 'connect ECONNREFUSED' });
  });

  test('fresh connections: one per check, Connection: close sent', async () => {
    const before = target.connections();
    for (let i = 0; i < 3; i++) expect((await check(spec(`${target.url}/count/fresh`))).ok).toBe(true);
    expect(target.connections()).toBe(before + 3);
    expect(target.hits('/count/fresh')).toBe(3);
  });

  test('keepalive: one pooled connection serves consecutive checks, no phase timings on reuse', async () => {
    const before = target.connections();
    const results = [];
    for (let i = 0; i < 4; i++) {
      results.push(await check(spec(`${target.url}/count/ka`, { keepalive: true })));
      await nextTurn();
    }
    expect(results.every((r) => r.ok)).toBe(true);
    expect(target.connections()).toBe(before + 1);
    expect(results[3]!.timings?.connect).toBeUndefined();
    expect(results[3]!.timings?.firstByte).toBeGreaterThanOrEqual(0);
  });

  test('method, headers and body are sent', async () => {
    const seen = await echoServer();
    try {
      const r = await check(
        spec(`${seen.url}/echo?q=1`, {
          method: 'post',
          headers: { 'content-type': 'application/json', 'x-api-key': 'k' },
          body: '{"ping":1}',
          ...jsonOk,
        }),
      );
      expect(r.ok).toBe(true);
      expect(seen.last).toMatchObject({
        method: 'POST',
        url: '/echo?q=1',
        body: '{"ping":1}',
        headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'user-agent': 'watcher/0.1' },
      });
    } finally {
      await seen.close();
    }
  });

  test('reasons never contain the URL (it may hold an API key)', async () => {
    const port = await closedPort();
    const rs = await Promise.all([
      check(spec(`http://127.0.0.1:${port}/x?api_key=SECRET123`)),
      check(spec(`${target.url}/loop?api_key=SECRET123`)),
      check(spec(`not a url api_key=SECRET123`)),
      check(spec(`http://user:SECRET123@127.0.0.1:${port}/`)),
    ]);
    for (const r of rs) {
      expect(r.ok).toBe(false);
      expect(r.error).not.toContain('SECRET123');
    }
    expect(rs[2]!.error).toBe('unsupported scheme');
  });

  test('many concurrent faults at once: each settles with its reason, nothing throws', async () => {
    const paths = ['/ok', '/reset', '/hang', '/badjson', '/loop', '/status/503', '/big', '/degraded'];
    const rs = await Promise.all(
      paths.map((p) => check(spec(`${target.url}${p}`, { timeoutMs: 500, ...jsonOk }))),
    );
    expect(rs.map((r) => r.error)).toEqual([
      null,
      'connection reset',
      'timeout',
      'json: unexpected token',
      'too many redirects',
      'status 503',
      'body too large',
      'test: status == "degraded", expected "ok"',
    ]);
  });
});

/**
 * Scheduled checks are spaced out; back-to-back in the same tick, undici's pool has not yet
 * marked the finished connection free and would open a second one.
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function echoServer() {
  const state: {
    last: { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string } | null;
  } = { last: null };
  const s = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      state.last = { method: req.method, url: req.url, headers: req.headers, body };
      res.setHeader('content-type', 'application/json');
      res.end('{"status":"ok"}');
    });
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get last() {
      return state.last;
    },
    close: () => new Promise<void>((resolve) => s.close(() => resolve())),
  };
}
