/**
 * Proves the TLS and auth modes of the etcd harness with the `etcd3` client the Coordinator uses:
 * mutual TLS accepts a client with the CA-signed certificate and rejects one without it; password
 * auth accepts root, rejects a wrong password with a clear error within seconds (no hang), and a
 * prefix-limited user can write only under its prefix; with TLS + auth the certificate CN is the user.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3, EtcdAuthenticationFailedError, EtcdPermissionDeniedError, type IOptions } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCerts, type TestCerts } from '../support/certs.js';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { killAllSpawned } from '../support/processes.js';
import { withTimeout } from '../support/wait.js';

const deadlines: Partial<IOptions> = {
  defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 1000 }),
};

const clients: Etcd3[] = [];
function client(o: IOptions): Etcd3 {
  const c = new Etcd3({ ...deadlines, ...o });
  clients.push(c);
  return c;
}

/** Settles `p` within `ms` and returns its rejection (undefined if it resolved). */
async function failureOf(p: PromiseLike<unknown>, ms: number, what: string): Promise<Error | undefined> {
  return withTimeout(p, ms, what).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
}

let certDir: string;
let certs: TestCerts;

beforeAll(async () => {
  certDir = await mkdtemp(join(tmpdir(), 'watcher-certs-'));
  certs = await makeCerts(certDir, { clientNames: ['root', 'alice'] });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await killAllSpawned();
  await rm(certDir, { recursive: true, force: true });
});

describe('certs', () => {
  it('issues a server cert for 127.0.0.1/localhost and client certs signed by the CA', async () => {
    const { X509Certificate } = await import('node:crypto');
    const ca = new X509Certificate(certs.ca.cert);
    const server = new X509Certificate(certs.server.cert);
    expect(server.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(server.subjectAltName).toContain('DNS:localhost');
    expect(server.verify(ca.publicKey)).toBe(true);
    const alice = new X509Certificate(certs.clients.alice!.cert);
    expect(alice.subject).toContain('CN=alice');
    expect(alice.verify(ca.publicKey)).toBe(true);
    expect(new X509Certificate(certs.client.cert).subject).toContain('CN=root');
  });
});

describe('etcd with mutual TLS', () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await startEtcdCluster({ members: 1, tls: { certs } });
  });
  afterAll(async () => cluster?.close());

  it('serves https and accepts a client presenting the CA-signed certificate', async () => {
    expect(cluster.clientUrls[0]).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const c = client(cluster.clientOptions());
    await c.put('tls/k').value('v');
    expect(await c.get('tls/k').string()).toBe('v');
    expect((await cluster.leader()).name).toBe('m1');
  });

  it('rejects a client that trusts the CA but presents no certificate', async () => {
    const c = client({ hosts: cluster.clientUrls, credentials: { rootCertificate: certs.ca.cert } });
    const err = await failureOf(c.get('tls/k').string(), 10_000, 'get without client cert');
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).not.toMatch(/did not settle/);
  });

  it('rejects a plaintext client', async () => {
    const c = client({ hosts: cluster.clientUrls.map((u) => u.replace('https:', 'http:')) });
    const err = await failureOf(c.get('tls/k').string(), 10_000, 'plaintext get');
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).not.toMatch(/did not settle/);
  });
});

describe('etcd with password auth', () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await startEtcdCluster({
      members: 1,
      auth: {
        rootPassword: 'root-pw',
        users: [{ name: 'alice', password: 'alice-pw', prefix: '/watcher/' }],
      },
    });
  });
  afterAll(async () => cluster?.close());

  it('accepts root with its password', async () => {
    const c = client(cluster.clientOptions({ auth: { username: 'root', password: 'root-pw' } }));
    await c.put('/any/key').value('1');
    expect(await c.get('/any/key').string()).toBe('1');
  });

  it('rejects a wrong password with an authentication error within a few seconds', async () => {
    const c = client(cluster.clientOptions({ auth: { username: 'root', password: 'wrong' } }));
    const t0 = Date.now();
    const err = await failureOf(c.get('/any/key').string(), 5000, 'get with a wrong password');
    expect(err).toBeInstanceOf(EtcdAuthenticationFailedError);
    expect(Date.now() - t0).toBeLessThan(5000);
    // A second call on the same client fails the same way (no stuck circuit breaker).
    const again = await failureOf(c.get('/any/key').string(), 5000, 'second get with a wrong password');
    expect(again).toBeInstanceOf(EtcdAuthenticationFailedError);
    expect(err!.message).not.toContain('wrong');
  });

  it('rejects a client without credentials', async () => {
    const c = client(cluster.clientOptions());
    const err = await failureOf(c.get('/any/key').string(), 5000, 'anonymous get');
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toMatch(/user name is empty/);
  });

  it('limits a user to its key prefix', async () => {
    const c = client(cluster.clientOptions({ auth: { username: 'alice', password: 'alice-pw' } }));
    await c.put('/watcher/x').value('ok');
    expect(await c.get('/watcher/x').string()).toBe('ok');
    const err = await failureOf(c.put('/other/x').value('no').exec(), 5000, 'put outside the prefix');
    expect(err).toBeInstanceOf(EtcdPermissionDeniedError);
  });
});

describe('etcd with mutual TLS and auth (certificate CN = user)', () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await startEtcdCluster({
      members: 1,
      tls: { certs },
      auth: {
        rootPassword: 'root-pw',
        users: [{ name: 'alice', password: 'alice-pw', prefix: '/watcher/' }],
      },
    });
  });
  afterAll(async () => cluster?.close());

  it('authenticates by certificate without a password', async () => {
    const root = client(cluster.clientOptions());
    await root.put('/any/key').value('1');
    expect(await root.get('/any/key').string()).toBe('1');

    const alice = certs.clients.alice!;
    const c = client({
      hosts: cluster.clientUrls,
      credentials: { rootCertificate: certs.ca.cert, privateKey: alice.key, certChain: alice.cert },
    });
    await c.put('/watcher/y').value('ok');
    const err = await failureOf(c.put('/other/y').value('no').exec(), 5000, 'alice put outside her prefix');
    expect(err).toBeInstanceOf(EtcdPermissionDeniedError);
  });
});
