/**
 * tcp, tls and dns checks in the same CheckPool batch as HTTP (real piscina threads, compiled
 * thread entry from dist/: `npm run build` first): one result each, stable reasons, and a probe
 * that cannot run leaves the thread alive.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CheckPool } from '../../src/checks/pool.js';
import type { CheckSpec } from '../../src/model/endpoint.js';
import {
  type DnsTarget,
  makeProbeCerts,
  startDnsTarget,
  startTcpTarget,
  type TcpTarget,
} from '../support/probe-targets.js';
import { startTarget, type Target } from '../support/target.js';
import { spec } from './spec.js';

let http: Target;
let tcp: TcpTarget;
let dns: DnsTarget;
let tlsServer: tls.Server;
let tlsPort: number;
let dir: string;
let rootCa: string;
let pool: CheckPool;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'watcher-probes-pool-'));
  const certs = await makeProbeCerts(dir);
  rootCa = certs.rootCa;
  tlsServer = tls.createServer(
    { key: await readFile(certs.soon.keyPath), cert: await readFile(certs.soon.certPath) },
    (s) => s.end(),
  );
  tlsServer.on('tlsClientError', () => {});
  await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
  tlsPort = (tlsServer.address() as AddressInfo).port;
  [http, tcp, dns] = await Promise.all([startTarget(), startTcpTarget('accept'), startDnsTarget()]);
  pool = new CheckPool({ threads: 1, worker: 'w-probes' });
}, 60_000);

afterAll(async () => {
  await pool?.close(0);
  await Promise.all([http?.close(), tcp?.close(), dns?.close()]);
  await new Promise<void>((r) => (tlsServer ? tlsServer.close(() => r()) : r()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('probes in the check pool', () => {
  test('a mixed batch of http, tcp, tls and dns: one result each, in order', async () => {
    const base = { timeoutMs: 1000, successTests: [] };
    const specs: CheckSpec[] = [
      spec(`${http.url}/ok`, { id: 'http' }),
      spec(`tcp://127.0.0.1:${tcp.port}`, {
        ...base,
        id: 'tcp',
        probe: { kind: 'tcp', send: 'PING\r\n', expect: { kind: 'contains', value: 'PONG' }, tls: null },
      }),
      spec(`tls://127.0.0.1:${tlsPort}`, {
        ...base,
        id: 'tls',
        successTests: [{ kind: 'cert_expiry_days', op: '>', value: 14 }],
        probe: { kind: 'tls', tls: { serverName: 'localhost', caFile: rootCa } },
      }),
      spec('dns://ok.test', {
        ...base,
        id: 'dns',
        successTests: [{ kind: 'answers', op: 'contains', value: '203.0.113.7' }],
        probe: { kind: 'dns', record: 'A', server: dns.server },
      }),
      spec('dns://slow.test', {
        ...base,
        id: 'dns-slow',
        timeoutMs: 300,
        probe: { kind: 'dns', record: 'A', server: dns.server },
      }),
      // a tcp URL without its options: a failed check, not a dead thread
      spec(`tcp://127.0.0.1:${tcp.port}`, { ...base, id: 'broken' }),
    ];
    const results = await pool.runAll(specs.map((s) => ({ spec: s, scheduledAt: Date.now() })));
    expect(results.map((r) => [r.endpoint, r.ok, r.error])).toEqual([
      ['http', true, null],
      ['tcp', true, null],
      ['tls', false, 'test: cert_expiry_days == 3.0, expected > 14'],
      ['dns', true, null],
      ['dns-slow', false, 'timeout'],
      ['broken', false, 'invalid probe options'],
    ]);
    expect(results[2]!.values.cert_subject).toBe('CN=localhost');
    expect(results[3]!.values.answers).toBe('203.0.113.7, 203.0.113.8');
    expect(results[1]!.timings?.connect).toBeGreaterThanOrEqual(0);

    // the same thread still serves checks
    const again = await pool.runAll([{ spec: specs[1]!, scheduledAt: Date.now() }]);
    expect(again[0]).toMatchObject({ ok: true });
  });
});
