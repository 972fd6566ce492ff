/**
 * The tls probe, tcp with tls: true, and cert_expiry_days on https checks, against TLS servers
 * whose certificates are made in the test: valid, expired, expiring in 3 days, wrong host name,
 * self-signed, incomplete chain (and the complete one).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { clearIdleClients, closeKeepAliveAgents } from '../../src/checks/http/dispatchers.js';
import { runCheck } from '../../src/checks/run-check.js';
import type { CheckSpec, SuccessTest } from '../../src/model/endpoint.js';
import {
  type CertFile,
  makeProbeCerts,
  type ProbeCerts,
  startTcpTarget,
  type TcpTarget,
} from '../support/probe-targets.js';
import { freePort } from '../support/processes.js';
import { spec } from './spec.js';

let dir: string;
let certs: ProbeCerts;
const servers: { close(cb: () => void): unknown }[] = [];
const ports: Record<string, number> = {};
let stall: TcpTarget;

async function serve(name: string, c: CertFile, chain: string | null = null, banner = false): Promise<void> {
  const cert = Buffer.concat([
    await readFile(c.certPath),
    chain === null ? Buffer.alloc(0) : await readFile(chain),
  ]);
  const server = tls.createServer({ key: await readFile(c.keyPath), cert }, (s) => {
    s.on('error', () => {});
    if (banner) s.write('220 tls ready\r\n');
    else s.end();
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  ports[name] = (server.address() as AddressInfo).port;
}

async function serveHttps(name: string, c: CertFile): Promise<void> {
  const server = https.createServer(
    { key: await readFile(c.keyPath), cert: await readFile(c.certPath) },
    (_q, res) => {
      res.end('ok');
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push({
    close: (cb) => {
      server.closeAllConnections();
      server.close(cb);
    },
  });
  ports[name] = (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'watcher-tls-probe-'));
  certs = await makeProbeCerts(dir);
  stall = await startTcpTarget('stall');
  await Promise.all([
    serve('valid', certs.valid),
    serve('expired', certs.expired),
    serve('soon', certs.soon),
    serve('wrongHost', certs.wrongHost),
    serve('selfSigned', certs.selfSigned),
    serve('incomplete', certs.viaIntermediate),
    serve('complete', certs.viaIntermediate, certs.intermediate),
    serve('banner', certs.valid, null, true),
    serveHttps('httpsValid', certs.valid),
    serveHttps('httpsSoon', certs.soon),
  ]);
}, 60_000);

afterAll(async () => {
  await closeKeepAliveAgents();
  clearIdleClients();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  await stall?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const over14: SuccessTest = { kind: 'cert_expiry_days', op: '>', value: 14 };

function tlsSpec(
  port: number,
  over: Partial<CheckSpec> = {},
  caFile: string | null = certs.rootCa,
): CheckSpec {
  return spec(`tls://127.0.0.1:${port}`, {
    timeoutMs: 2000,
    successTests: [],
    probe: { kind: 'tls', tls: { serverName: 'localhost', caFile } },
    ...over,
  });
}
const check = (s: CheckSpec) => runCheck(s, Date.now(), 'w-test');

describe('tls probe', () => {
  test('valid chain and name: ok, leaf details and days to expiry in the values, phases timed', async () => {
    const r = await check(tlsSpec(ports.valid!, { successTests: [over14] }));
    expect(r).toMatchObject({ ok: true, error: null });
    expect(r.values.cert_subject).toBe('CN=localhost');
    expect(r.values.cert_issuer).toBe('CN=watcher-probe-root');
    expect(r.values.cert_sans).toContain('DNS:localhost');
    expect(r.values.cert_sans).toContain('IP Address:127.0.0.1');
    expect(Number(r.values.cert_expiry_days)).toBeGreaterThan(29);
    expect(Number(r.values.cert_expiry_days)).toBeLessThanOrEqual(30);
    expect(Date.parse(r.values.cert_not_after!)).toBeGreaterThan(Date.now());
    expect(r.values.tls_version).toMatch(/^TLSv1\.[23]$/);
    expect(r.timings?.connect).toBeGreaterThanOrEqual(0);
    expect(r.timings?.tls).toBeGreaterThanOrEqual(0);
  });

  test('expired: tls: CERT_HAS_EXPIRED, the certificate still reported', async () => {
    const r = await check(tlsSpec(ports.expired!));
    expect(r).toMatchObject({ ok: false, error: 'tls: CERT_HAS_EXPIRED' });
    expect(Number(r.values.cert_expiry_days)).toBeLessThan(0);
  });

  test('expiring in 3 days: the handshake verifies, cert_expiry_days > 14 fails', async () => {
    const ok = await check(tlsSpec(ports.soon!));
    expect(ok.ok).toBe(true);
    const r = await check(tlsSpec(ports.soon!, { successTests: [over14] }));
    expect(r).toMatchObject({ ok: false, error: 'test: cert_expiry_days == 3.0, expected > 14' });
  });

  test('wrong host name: tls: ERR_TLS_CERT_ALTNAME_INVALID; passes with tls_verify off', async () => {
    const r = await check(tlsSpec(ports.wrongHost!));
    expect(r).toMatchObject({ ok: false, error: 'tls: ERR_TLS_CERT_ALTNAME_INVALID' });
    const off = await check(tlsSpec(ports.wrongHost!, { tlsVerify: false }));
    expect(off).toMatchObject({ ok: true, values: { cert_sans: 'DNS:other.example' } });
  });

  test('self-signed: tls: DEPTH_ZERO_SELF_SIGNED_CERT; with tls_verify off the dates still count', async () => {
    const r = await check(tlsSpec(ports.selfSigned!));
    expect(r).toMatchObject({ ok: false, error: 'tls: DEPTH_ZERO_SELF_SIGNED_CERT' });
    const off = await check(tlsSpec(ports.selfSigned!, { tlsVerify: false, successTests: [over14] }));
    expect(off).toMatchObject({ ok: true, values: { cert_issuer: 'CN=localhost' } });
  });

  test('incomplete chain (leaf without its intermediate): tls: UNABLE_TO_VERIFY_LEAF_SIGNATURE; the complete one passes', async () => {
    const r = await check(tlsSpec(ports.incomplete!));
    expect(r).toMatchObject({ ok: false, error: 'tls: UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    const full = await check(tlsSpec(ports.complete!));
    expect(full).toMatchObject({ ok: true, values: { cert_issuer: 'CN=watcher-probe-intermediate' } });
  });

  test('without ca_file the system roots do not know the test root', async () => {
    const r = await check(tlsSpec(ports.valid!, {}, null));
    expect(r).toMatchObject({ ok: false, error: 'tls: UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  test('an unreadable ca_file, a refused port, a server that never answers the handshake', async () => {
    const missing = await check(tlsSpec(ports.valid!, {}, join(dir, 'nope.pem')));
    expect(missing).toMatchObject({ ok: false, error: 'tls: ca_file unreadable' });
    const refused = await check(tlsSpec(await freePort()));
    expect(refused).toMatchObject({ ok: false, error: 'connect ECONNREFUSED' });
    const stalled = await check(tlsSpec(stall.port, { timeoutMs: 300 }));
    expect(stalled).toMatchObject({ ok: false, error: 'timeout' });
  });
});

describe('tcp with tls: true', () => {
  test('expect over TLS, with the certificate values and the expiry test', async () => {
    const r = await check(
      spec(`tcp://127.0.0.1:${ports.banner}`, {
        successTests: [over14],
        probe: {
          kind: 'tcp',
          send: null,
          expect: { kind: 'contains', value: '220 tls ready' },
          tls: { serverName: 'localhost', caFile: certs.rootCa },
        },
      }),
    );
    expect(r).toMatchObject({ ok: true, values: { cert_subject: 'CN=localhost' } });
    expect(r.timings?.tls).toBeGreaterThanOrEqual(0);
    expect(r.timings?.firstByte).toBeGreaterThanOrEqual(0);
  });
});

describe('cert_expiry_days on https checks', () => {
  const httpsSpec = (port: number, over: Partial<CheckSpec> = {}) =>
    spec(`https://localhost:${port}/`, {
      tlsVerify: false,
      successTests: [{ kind: 'status_code', op: '==', value: 200 }, over14],
      ...over,
    });

  for (const keepalive of [false, true]) {
    test(`${keepalive ? 'keep-alive' : 'fresh connection'}: the certificate of the check's connection`, async () => {
      const ok = await check(httpsSpec(ports.httpsValid!, { keepalive }));
      expect(ok).toMatchObject({ ok: true, status_code: 200 });
      expect(Number(ok.values.cert_expiry_days)).toBeGreaterThan(29);
      const soon = await check(httpsSpec(ports.httpsSoon!, { keepalive }));
      expect(soon).toMatchObject({
        ok: false,
        status_code: 200,
        error: 'test: cert_expiry_days == 3.0, expected > 14',
      });
    });
  }

  test('an https check without the test reads no certificate', async () => {
    const r = await check(httpsSpec(ports.httpsSoon!, { successTests: [] }));
    expect(r.ok).toBe(true);
    expect(r.values.cert_expiry_days).toBeUndefined();
  });
});
