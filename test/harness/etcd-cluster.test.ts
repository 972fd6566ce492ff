/**
 * Proves the etcd + proxy harness on a real 3-member cluster: the cluster starts, a client works
 * through the proxies, a 'drop' cut blackholes the proxied path only, heal restores it, a killed
 * leader is replaced, and stopAll/startAll keeps the data.
 */
import { Etcd3, type IOptions } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { killAllSpawned } from '../support/processes.js';
import { type ProxyGroup, startProxies } from '../support/proxy.js';
import { waitFor, withTimeout } from '../support/wait.js';

/** Per-attempt deadline on unary calls (see REFERENCE.md: without it a call can hang ~7 s). */
const clientDefaults: Partial<IOptions> = {
  defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 1000 }),
};

describe('etcd harness: 3-member cluster', () => {
  let cluster: EtcdCluster;
  let proxies: ProxyGroup;
  const clients: Etcd3[] = [];
  const client = (o: IOptions): Etcd3 => {
    const c = new Etcd3({ ...clientDefaults, ...o });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    cluster = await startEtcdCluster({ members: 3 });
    proxies = await startProxies(cluster.clientUrls);
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await proxies?.close();
    await cluster?.close();
    await killAllSpawned();
  });

  it('starts 3 healthy members with distinct ports away from 2379/2380 and one leader', async () => {
    expect(cluster.members.map((m) => m.name)).toEqual(['m1', 'm2', 'm3']);
    const ports = cluster.clientUrls.map((u) => Number(new URL(u).port));
    expect(new Set(ports).size).toBe(3);
    expect(ports).not.toContain(2379);
    for (const m of cluster.members) expect(m.pid).toBeGreaterThan(0);
    const leader = await cluster.leader();
    expect(cluster.members.map((m) => m.name)).toContain(leader.name);
  });

  it('put/get works through the proxies', async () => {
    const c = client(cluster.clientOptions({ hosts: proxies.urls }));
    await c.put('harness/a').value('1');
    expect(await c.get('harness/a').string()).toBe('1');
    expect(proxies.connections()).toBeGreaterThan(0);
  });

  it("a 'drop' cut makes a proxied request with a deadline fail while a direct one works; heal restores it", async () => {
    const viaProxy = client(cluster.clientOptions({ hosts: proxies.urls }));
    const direct = client(cluster.clientOptions());
    await viaProxy.put('harness/drop').value('before');

    await proxies.cut('drop');
    const t0 = Date.now();
    // The client's own retries (3 attempts × 1 s deadline) bound the failure; the outer timeout
    // only guards against a hang.
    const err = await withTimeout(
      viaProxy.get('harness/drop').string(),
      8000,
      'proxied get during drop',
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).not.toMatch(/did not settle/);
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(proxies.connections()).toBeGreaterThan(0); // blackholed, not closed

    await direct.put('harness/drop').value('during');
    expect(await direct.get('harness/drop').string()).toBe('during');

    await proxies.heal();
    // The client's circuit breaker may hold the hosts open for up to 5 s after the failures.
    const value = await waitFor(
      () =>
        viaProxy
          .get('harness/drop')
          .string()
          .catch(() => undefined),
      {
        timeoutMs: 12_000,
        intervalMs: 250,
        message: 'proxied get works again after heal',
      },
    );
    expect(value).toBe('during');
  });

  it("a 'refuse' cut fails proxied requests fast and drops the connections; heal restores it", async () => {
    const viaProxy = client(cluster.clientOptions({ hosts: proxies.urls }));
    await viaProxy.put('harness/refuse').value('x');
    await proxies.cut('refuse');
    expect(proxies.connections()).toBe(0);
    const err = await withTimeout(
      viaProxy.get('harness/refuse').string(),
      8000,
      'proxied get during refuse',
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).not.toMatch(/did not settle/);
    await proxies.heal();
    const value = await waitFor(
      () =>
        viaProxy
          .get('harness/refuse')
          .string()
          .catch(() => undefined),
      {
        timeoutMs: 12_000,
        intervalMs: 250,
        message: 'proxied get works again after heal from refuse',
      },
    );
    expect(value).toBe('x');
  });

  it('killing the leader elects a new one within a deadline; the old member rejoins', async () => {
    const old = await cluster.leader();
    const t0 = Date.now();
    await cluster.killMember(old.name);
    expect(cluster.member(old.name).running).toBe(false);
    const next = await cluster.leader(8000);
    expect(next.name).not.toBe(old.name);
    expect(Date.now() - t0).toBeLessThan(8000);

    const c = client(cluster.clientOptions());
    await waitFor(
      () =>
        c
          .put('harness/after-kill')
          .value('y')
          .then(
            () => true,
            () => false,
          ),
      {
        timeoutMs: 5000,
        message: 'write accepted by the 2 remaining members',
      },
    );
    await cluster.startMember(old.name);
    expect(cluster.member(old.name).running).toBe(true);
    await cluster.waitHealthy(10_000);
  });

  it('stopAll + startAll brings the cluster back with its data', async () => {
    const c = client(cluster.clientOptions());
    await waitFor(
      () =>
        c
          .put('harness/persist')
          .value('kept')
          .then(
            () => true,
            () => false,
          ),
      {
        timeoutMs: 5000,
        message: 'write before stopAll',
      },
    );
    await cluster.stopAll();
    expect(cluster.members.every((m) => !m.running && m.pid === undefined)).toBe(true);
    await cluster.startAll();
    const fresh = client(cluster.clientOptions());
    const value = await waitFor(
      () =>
        fresh
          .get('harness/persist')
          .string()
          .catch(() => undefined),
      {
        timeoutMs: 8000,
        message: 'data readable after restart',
      },
    );
    expect(value).toBe('kept');
    await cluster.leader(8000);
  });
});
