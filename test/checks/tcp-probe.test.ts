/**
 * The tcp probe through runCheck against real local servers: accepting, refusing, stalling,
 * answering right and wrong, resetting, flooding. Every failure has a short stable reason.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCheck } from '../../src/checks/run-check.js';
import { parseFile } from '../../src/config/index.js';
import type { CheckSpec, ProbeOptions, SuccessTest } from '../../src/model/endpoint.js';
import { startTcpTarget, type TcpTarget } from '../support/probe-targets.js';
import { freePort } from '../support/processes.js';
import { waitFor } from '../support/wait.js';
import { spec } from './spec.js';

let plain: TcpTarget;
let banner: TcpTarget;
let reset: TcpTarget;

beforeAll(async () => {
  [plain, banner, reset] = await Promise.all([
    startTcpTarget('accept'),
    startTcpTarget('banner'),
    startTcpTarget('reset'),
  ]);
});
afterAll(async () => {
  await Promise.all([plain?.close(), banner?.close(), reset?.close()]);
});

type Tcp = Extract<ProbeOptions, { kind: 'tcp' }>;
function tcp(port: number, o: Partial<Tcp> = {}, over: Partial<CheckSpec> = {}): CheckSpec {
  const probe: Tcp = { kind: 'tcp', send: null, expect: null, tls: null, ...o };
  return spec(`tcp://127.0.0.1:${port}`, {
    timeoutMs: 400,
    connectTimeoutMs: 400,
    successTests: [],
    probe,
    ...over,
  });
}
const check = (s: CheckSpec) => runCheck(s, Date.now(), 'w-test');

describe('tcp probe', () => {
  test('a server that accepts: ok with connect timing, no dns phase for an IP', async () => {
    const r = await check(tcp(plain.port));
    expect(r).toMatchObject({ ok: true, error: null, status_code: null, values: {} });
    expect(r.timings?.connect).toBeGreaterThanOrEqual(0);
    expect(r.timings?.dns).toBeUndefined();
    expect(r.timings?.total).toBe(r.duration_ms);
  });

  test('localhost is looked up: dns phase timed', async () => {
    const r = await check({ ...tcp(plain.port), url: `tcp://localhost:${plain.port}` });
    expect(r.ok).toBe(true);
    expect(r.timings?.dns).toBeGreaterThanOrEqual(0);
  });

  test('a refused port: connect ECONNREFUSED', async () => {
    const r = await check(tcp(await freePort()));
    expect(r).toMatchObject({ ok: false, error: 'connect ECONNREFUSED' });
  });

  test('send and expect: +PONG matches, first byte timed', async () => {
    const r = await check(tcp(plain.port, { send: 'PING\r\n', expect: { kind: 'contains', value: 'PONG' } }));
    expect(r).toMatchObject({ ok: true, error: null });
    expect(r.timings?.firstByte).toBeGreaterThanOrEqual(0);
  });

  test('send without expect: the bytes reach the server before the connection closes', async () => {
    const r = await check(tcp(plain.port, { send: 'HELLO-NO-EXPECT\r\n' }));
    expect(r).toMatchObject({ ok: true, error: null });
    await waitFor(() => plain.lines.includes('HELLO-NO-EXPECT'), {
      timeoutMs: 2000,
      message: 'line received',
    });
  });

  test('expect a regex on a banner: named groups become values', async () => {
    const r = await check(
      tcp(banner.port, { expect: { kind: 'matches', pattern: '^220 (?<host>\\S+) ready' } }),
    );
    expect(r).toMatchObject({ ok: true, values: { host: 'test' } });
  });

  test('a server that stalls: timeout', async () => {
    const r = await check(
      tcp(plain.port, { send: 'NOTHING\r\n', expect: { kind: 'contains', value: 'PONG' } }),
    );
    expect(r).toMatchObject({ ok: false, error: 'timeout' });
    expect(r.duration_ms).toBeGreaterThanOrEqual(390);
  });

  test('wrong bytes then close: expect: closed before match', async () => {
    const r = await check(
      tcp(plain.port, { send: 'WRONG\r\n', expect: { kind: 'contains', value: 'PONG' } }),
    );
    expect(r).toMatchObject({ ok: false, error: 'expect: closed before match' });
  });

  test('wrong bytes and the connection held: timeout', async () => {
    const r = await check(
      tcp(plain.port, { send: 'WRONGOPEN\r\n', expect: { kind: 'matches', pattern: '^\\+PONG' } }),
    );
    expect(r).toMatchObject({ ok: false, error: 'timeout' });
  });

  test('more than 64 KiB without a match: bounded read', async () => {
    const r = await check(
      tcp(plain.port, { send: 'FLOOD\r\n', expect: { kind: 'contains', value: 'PONG' } }),
    );
    expect(r).toMatchObject({ ok: false, error: 'expect: no match in 64 KiB' });
  });

  test('a reset while reading: connection reset', async () => {
    const r = await check(
      tcp(plain.port, { send: 'RESET\r\n', expect: { kind: 'contains', value: 'PONG' } }),
    );
    expect(r).toMatchObject({ ok: false, error: 'connection reset' });
  });

  test('a reset at accept with expect: connection reset or closed, never a throw', async () => {
    const r = await check(tcp(reset.port, { expect: { kind: 'contains', value: 'x' } }));
    expect(r.ok).toBe(false);
    expect(['connection reset', 'expect: closed before match']).toContain(r.error);
  });

  test('latency test on a tcp check', async () => {
    const slow: SuccessTest = { kind: 'latency_ms', op: '<', value: -1 };
    const r = await check(tcp(plain.port, {}, { successTests: [slow] }));
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/^test: latency_ms == \d+, expected < -1$/);
  });

  test('tls: true on a plain server that never answers the handshake: timeout', async () => {
    const r = await check(tcp(plain.port, { tls: { serverName: null, caFile: null } }));
    expect(r).toMatchObject({ ok: false, error: 'timeout' });
  });
});

describe('endpoints.d/examples/probes.yml.example', () => {
  test('its offline tcp endpoints pass against a status server (port 9464 moved to a free one)', async () => {
    const server = http.createServer((_q, res) => res.end('{"status":"ok"}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const file = join(import.meta.dirname, '../../endpoints.d/examples/probes.yml.example');
      const text = readFileSync(file, 'utf8').replaceAll(':9464', `:${port}`);
      const tcpEndpoints = parseFile(text, 'probes.yml', { env: {} }).endpoints.filter(
        (e) => e.probe?.kind === 'tcp',
      );
      expect(tcpEndpoints).toHaveLength(2);
      const results = await Promise.all(tcpEndpoints.map((e) => runCheck(e, Date.now(), 'w-test')));
      expect(results.map((r) => [r.ok, r.error])).toEqual([
        [true, null],
        [true, null],
      ]);
      expect(results[1]!.values).toEqual({ code: '200' });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
