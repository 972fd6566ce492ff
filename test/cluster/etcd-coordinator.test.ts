/**
 * The etcd coordinator against a real single-member etcd: in-process coordinators act as workers.
 * Each test uses its own cluster name (key prefix), so tests share the etcd without interfering.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigSnapshot } from '../../src/config/types.js';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { waitFor } from '../support/wait.js';
import { exactlyOnce, makeWorker, names, readOwners, snapshot, type TestWorker } from './etcd-helpers.js';

let etcd: EtcdCluster;
let urls: string[];
const started: TestWorker[] = [];

beforeAll(async () => {
  etcd = await startEtcdCluster({ members: 1 });
  urls = etcd.clientUrls;
});

afterAll(async () => {
  await etcd?.close();
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.coord.stop()));
});

function worker(
  id: string,
  cluster: string,
  desired: () => ConfigSnapshot | null,
  o: Parameters<typeof makeWorker>[2] = {},
): TestWorker {
  const w = makeWorker(urls, id, { cluster, desired, ...o });
  started.push(w);
  return w;
}

/** Simulates a crash: the client goes away without releasing; the lease runs out in etcd. */
async function crash(w: TestWorker): Promise<void> {
  const c = w.coord as unknown as {
    rpc: { close(): void } | null;
    session: { stop(): void } | null;
    phase: string;
  };
  c.session?.stop();
  c.phase = 'stopped';
  c.rpc?.close();
  started.splice(started.indexOf(w), 1);
}

describe('etcd coordinator', () => {
  it('shares the desired jobs among workers: every job runs on exactly one worker', async () => {
    const desired = snapshot(names(40));
    const expected = [...desired.raw.keys()];
    const ws = ['w1', 'w2', 'w3'].map((id) => worker(id, 'share', () => desired));
    await Promise.all(ws.map((w) => w.coord.start()));
    expect(ws.every((w) => w.coord.ready())).toBe(true);
    await waitFor(() => exactlyOnce(ws, expected), {
      timeoutMs: 10_000,
      message: 'every job owned exactly once',
    });
    const { jobsets, owners } = await readOwners(urls, 'share');
    expect(jobsets.length).toBeGreaterThan(1);
    for (const js of jobsets) expect(['w1', 'w2', 'w3']).toContain(owners.get(js));
    // exactly one admin
    await waitFor(() => ws.filter((w) => w.coord.isAdmin()).length === 1, {
      timeoutMs: 5000,
      message: 'one admin',
    });
    const st = ws[0]!.coord.status();
    expect(st.mode).toBe('etcd');
    expect(st.workers.map((x) => x.id)).toEqual(['w1', 'w2', 'w3']);
    expect(st.waiting).toBe(0);
    expect(st.jobsets.reduce((n, j) => n + j.jobs, 0)).toBe(40);
  });

  it('refuses a second live worker with the same id (CLUSTER_ID_IN_USE)', async () => {
    const a = worker('dup', 'ids', () => null);
    await a.coord.start();
    const b = worker('dup', 'ids', () => null);
    const t0 = Date.now();
    await expect(b.coord.start()).rejects.toMatchObject({ code: 'CLUSTER_ID_IN_USE' });
    // it waits one lease TTL for a previous incarnation to expire, no longer
    expect(Date.now() - t0).toBeLessThan(6000);
    expect(a.coord.ready()).toBe(true);
  });

  it('fails over a crashed worker within TTL + 1 s; the new owner gets takenOver', async () => {
    const desired = snapshot(names(12));
    const expected = [...desired.raw.keys()];
    const ws = ['f1', 'f2', 'f3'].map((id) => worker(id, 'failover', () => desired));
    await Promise.all(ws.map((w) => w.coord.start()));
    await waitFor(() => exactlyOnce(ws, expected), { timeoutMs: 10_000, message: 'initial spread' });
    const victim = ws.find((w) => w.jobs().size > 0)!;
    const victimJobs = [...victim.jobs().keys()];
    const others = ws.filter((w) => w !== victim);
    const t0 = Date.now();
    await crash(victim);
    await waitFor(() => exactlyOnce(others, expected), {
      timeoutMs: 6000,
      message: 'survivors own everything',
    });
    const took = Date.now() - t0;
    expect(took).toBeLessThan(2000 + 1000 + 500);
    for (const name of victimJobs) {
      const job = others.map((w) => w.jobs().get(name)).find(Boolean)!;
      expect(job.takenOver).toBe(true);
      expect(job.dueSince).toBeLessThanOrEqual(Date.now());
    }
  });

  it('graceful stop hands jobsets back at once (no lease wait), with release time for catch-up', async () => {
    const desired = snapshot(names(12));
    const expected = [...desired.raw.keys()];
    const ws = ['g1', 'g2'].map((id) => worker(id, 'graceful', () => desired, { leaseTtlSec: 10 }));
    await Promise.all(ws.map((w) => w.coord.start()));
    await waitFor(() => exactlyOnce(ws, expected), { timeoutMs: 10_000, message: 'initial spread' });
    const [a, b] = ws as [TestWorker, TestWorker];
    const aJobs = [...a.jobs().keys()];
    expect(aJobs.length).toBeGreaterThan(0);
    const t0 = Date.now();
    await a.coord.stop();
    started.splice(started.indexOf(a), 1);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(a.jobs().size).toBe(0);
    await waitFor(() => exactlyOnce([b], expected), { timeoutMs: 3000, message: 'b owns everything' });
    // far less than the 10 s lease
    expect(Date.now() - t0).toBeLessThan(3000);
    for (const name of aJobs) {
      const j = b.jobs().get(name)!;
      expect(j.takenOver).toBe(true);
      expect(j.dueSince).toBeGreaterThanOrEqual(t0);
    }
  });

  it('elects one admin and replaces it within a lease TTL when it dies', async () => {
    const ws = ['a1', 'a2', 'a3'].map((id) => worker(id, 'admin', () => snapshot(names(3))));
    await Promise.all(ws.map((w) => w.coord.start()));
    const admin = await waitFor(() => ws.find((w) => w.coord.isAdmin()), {
      timeoutMs: 5000,
      message: 'an admin',
    });
    expect(ws.filter((w) => w.coord.isAdmin())).toHaveLength(1);
    await expect(admin.metrics.isAdmin.get()).resolves.toMatchObject({ values: [{ value: 1 }] });
    const t0 = Date.now();
    await crash(admin);
    const rest = ws.filter((w) => w !== admin);
    const next = await waitFor(() => rest.find((w) => w.coord.isAdmin()), {
      timeoutMs: 5000,
      message: 'a new admin',
    });
    expect(Date.now() - t0).toBeLessThan(2000 + 1500);
    expect(rest.filter((w) => w.coord.isAdmin())).toHaveLength(1);
    expect(next.coord.status().admin).toBe(next.id);
  });

  it('carries desired changes (add, change, remove) to the owner within a second', async () => {
    let desired = snapshot(names(5));
    const ws = ['d1', 'd2'].map((id) => worker(id, 'desired', () => desired));
    await Promise.all(ws.map((w) => w.coord.start()));
    await waitFor(() => exactlyOnce(ws, names(5)), { timeoutMs: 10_000, message: 'initial' });
    const push = (s: ConfigSnapshot) => {
      desired = s;
      for (const w of ws) w.coord.setDesired(s);
    };
    // add
    let t0 = Date.now();
    push(snapshot(names(7)));
    await waitFor(() => exactlyOnce(ws, names(7)), { timeoutMs: 3000, message: 'added jobs owned' });
    expect(Date.now() - t0).toBeLessThan(1000);
    // change one job's definition
    const target = names(7)[2]!;
    const ownerOf = () => ws.find((w) => w.jobs().has(target))!;
    const oldHash = ownerOf().jobs().get(target)!.endpoint.hash;
    t0 = Date.now();
    push(snapshot(names(7), (n) => (n === target ? { interval: '5s' } : {})));
    await waitFor(() => ownerOf()?.jobs().get(target)?.endpoint.hash !== oldHash, {
      timeoutMs: 3000,
      message: 'change reached owner',
    });
    expect(Date.now() - t0).toBeLessThan(1000);
    // remove
    t0 = Date.now();
    push(snapshot(names(4)));
    await waitFor(() => exactlyOnce(ws, names(4)), { timeoutMs: 3000, message: 'removed jobs gone' });
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('persists alert state on change and the next owner loads it', async () => {
    const desired = snapshot(names(2));
    const a = worker('s1', 'state', () => desired);
    await a.coord.start();
    await waitFor(() => a.jobs().size === 2, { timeoutMs: 5000, message: 'a owns both' });
    const ep = names(2)[0]!;
    a.coord.saveAlertState({
      endpoint: ep,
      state: 'DOWN',
      consecutiveFailures: 3,
      consecutiveSuccesses: 0,
      since: 1234,
      reason: 'status 503',
    });
    // not owned: ignored, never throws
    a.coord.saveAlertState({
      endpoint: 'nobody.test/x',
      state: 'DOWN',
      consecutiveFailures: 1,
      consecutiveSuccesses: 0,
      since: 1,
      reason: null,
    });
    const b = worker('s2', 'state', () => desired);
    await b.coord.start();
    await waitFor(async () => (await b.coord.loadAlertStates([ep])).get(ep)?.state === 'DOWN', {
      timeoutMs: 3000,
      message: 'state visible in etcd',
    });
    await a.coord.stop();
    started.splice(started.indexOf(a), 1);
    await waitFor(() => b.jobs().size === 2, { timeoutMs: 3000, message: 'b took over' });
    const loaded = await b.coord.loadAlertStates([ep, 'nobody.test/x']);
    expect(loaded.get(ep)).toEqual({
      endpoint: ep,
      state: 'DOWN',
      consecutiveFailures: 3,
      consecutiveSuccesses: 0,
      since: 1234,
      reason: 'status 503',
    });
    expect(loaded.has('nobody.test/x')).toBe(false);
  });

  it('a state change saved just before a graceful stop travels with the release', async () => {
    const desired = snapshot(names(2));
    const a = worker('s3', 'state-stop', () => desired);
    await a.coord.start();
    await waitFor(() => a.jobs().size === 2, { timeoutMs: 5000, message: 'a owns both' });
    const ep = names(2)[1]!;
    a.coord.saveAlertState({
      endpoint: ep,
      state: 'DOWN',
      consecutiveFailures: 1,
      consecutiveSuccesses: 0,
      since: 99,
      reason: 'timeout',
    });
    await a.coord.stop(); // no await between: the flush timer has not run
    started.splice(started.indexOf(a), 1);
    const b = worker('s4', 'state-stop', () => desired);
    await b.coord.start();
    expect((await b.coord.loadAlertStates([ep])).get(ep)?.reason).toBe('timeout');
  });

  it('respects capacity; jobs beyond it wait and are counted; a worker with room takes them', async () => {
    const desired = snapshot(names(40)); // 20 jobsets of 2 jobs
    const a = worker('cap1', 'capacity', () => desired, { capacity: 10 });
    await a.coord.start();
    await waitFor(() => a.jobs().size === 10, { timeoutMs: 5000, message: 'a at capacity' });
    await waitFor(async () => (await a.metrics.jobsWaiting.get()).values[0]?.value === 30, {
      timeoutMs: 3000,
      message: 'waiting = 30',
    });
    expect((await a.metrics.spareCapacity.get()).values[0]?.value).toBe(0);
    expect(a.coord.status().waiting).toBe(30);
    const b = worker('cap2', 'capacity', () => desired, { capacity: 100 });
    await b.coord.start();
    await waitFor(() => b.jobs().size === 30, { timeoutMs: 5000, message: 'b took the waiting jobs' });
    expect(a.jobs().size).toBe(10);
    await waitFor(async () => (await b.metrics.jobsWaiting.get()).values[0]?.value === 0, {
      timeoutMs: 3000,
      message: 'no wait',
    });
  });

  it('needs at most 1.2 attempts per claim with 5 workers when a worker dies', async () => {
    const desired = snapshot(names(60)); // 30 jobsets
    const expected = [...desired.raw.keys()];
    const ws = ['r1', 'r2', 'r3', 'r4', 'r5'].map((id) =>
      worker(id, 'herd', () => desired, { tuning: { rebalance: false } }),
    );
    await Promise.all(ws.map((w) => w.coord.start()));
    await waitFor(() => exactlyOnce(ws, expected), { timeoutMs: 10_000, message: 'initial spread' });
    const before = await Promise.all(ws.map((w) => w.claims()));
    const victim = ws.reduce((a, b) => (b.jobs().size > a.jobs().size ? b : a));
    const freed = victim.coord.ownedJobsets().length;
    expect(freed).toBeGreaterThan(2);
    await crash(victim);
    const rest = ws.filter((w) => w !== victim);
    await waitFor(() => exactlyOnce(rest, expected), {
      timeoutMs: 6000,
      message: 'survivors own everything',
    });
    const after = await Promise.all(ws.map((w) => w.claims()));
    let won = 0;
    let attempts = 0;
    ws.forEach((w, i) => {
      if (w === victim) return;
      won += after[i]!.won - before[i]!.won;
      attempts +=
        after[i]!.won +
        after[i]!.lost +
        after[i]!.error -
        (before[i]!.won + before[i]!.lost + before[i]!.error);
    });
    expect(won).toBe(freed);
    console.log('claims', { won, attempts, freed });
    expect(attempts / won).toBeLessThanOrEqual(1.2);
  });
});
