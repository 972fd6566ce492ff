/**
 * Faults between one in-process worker and etcd: a TCP proxy that drops (partition), a held
 * clock + dropped connection (SIGSTOP of that worker), and a restart of etcd itself.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigSnapshot } from '../../src/config/types.js';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { startProxy, type TcpProxy } from '../support/proxy.js';
import { waitFor } from '../support/wait.js';
import {
  exactlyOnce,
  makeWorker,
  names,
  PausableClock,
  snapshot,
  type TestWorker,
  type WorkerOptions,
} from './etcd-helpers.js';

let etcd: EtcdCluster;
let urls: string[];
let proxy: TcpProxy;
const started: TestWorker[] = [];

beforeAll(async () => {
  etcd = await startEtcdCluster({ members: 1 });
  urls = etcd.clientUrls;
  const u = new URL(urls[0]!);
  proxy = await startProxy({ host: u.hostname, port: Number(u.port) });
});

afterAll(async () => {
  await proxy?.close();
  await etcd?.close();
});

afterEach(async () => {
  if (proxy.mode() !== 'open') await proxy.heal();
  await Promise.all(started.splice(0).map((w) => w.coord.stop()));
});

function worker(
  id: string,
  cluster: string,
  desired: () => ConfigSnapshot | null,
  o: WorkerOptions & { viaProxy?: boolean } = {},
): TestWorker {
  const w = makeWorker(o.viaProxy ? [proxy.url] : urls, id, { cluster, desired, ...o });
  started.push(w);
  return w;
}

/** Starts w1 (through the proxy, owning some jobs) and w2, w3 (direct). */
async function threeWorkers(cluster: string, o: WorkerOptions = {}) {
  const desired = snapshot(names(24));
  const expected = [...desired.raw.keys()];
  // w1 first and alone, so it surely owns work when the fault starts
  const w1 = worker('w1', cluster, () => desired, { ...o, viaProxy: true });
  await w1.coord.start();
  await waitFor(() => w1.jobs().size === 24, { timeoutMs: 5000, message: 'w1 owns everything' });
  const w2 = worker('w2', cluster, () => desired, { tuning: { rebalance: false } });
  const w3 = worker('w3', cluster, () => desired, { tuning: { rebalance: false } });
  await Promise.all([w2.coord.start(), w3.coord.start()]);
  return { desired, expected, w1, w2, w3 };
}

describe('etcd coordinator under faults', () => {
  it('continue mode: a cut-off worker keeps checking, others take over, and it gives up on heal', async () => {
    const { expected, w1, w2, w3 } = await threeWorkers('part-continue', {
      onPartition: 'continue',
      tuning: { rebalance: false },
    });
    const held = [...w1.jobs().keys()];
    await proxy.cut('drop');
    const t0 = Date.now();
    await waitFor(() => exactlyOnce([w2, w3], expected), {
      timeoutMs: 6000,
      message: 'w2+w3 own everything',
    });
    expect(Date.now() - t0).toBeLessThan(2000 + 1500);
    // w1 cannot know: it keeps running what it had (monitoring does not stop)
    await waitFor(() => !w1.coord.ready(), { timeoutMs: 3000, message: 'w1 lease deadline passed' });
    expect([...w1.jobs().keys()].sort()).toEqual(held.sort());
    await waitFor(() => w1.coord.mayRun(), {
      timeoutMs: 3000,
      message: 'w1 still runs (partition evidence)',
    });
    await proxy.heal();
    const t1 = Date.now();
    await waitFor(() => exactlyOnce([w1, w2, w3], expected) && w1.coord.ready(), {
      timeoutMs: 8000,
      message: 'no duplicates after heal',
    });
    expect(Date.now() - t1).toBeLessThan(6000);
    expect(w1.coord.mayRun()).toBe(true);
  });

  it('pause mode: a cut-off worker stops once its lease must have expired, and rejoins on heal', async () => {
    const { expected, w1, w2, w3 } = await threeWorkers('part-pause', {
      onPartition: 'pause',
      tuning: { rebalance: false },
    });
    await proxy.cut('drop');
    const t0 = Date.now();
    await waitFor(() => w1.jobs().size === 0 && !w1.coord.mayRun(), {
      timeoutMs: 4000,
      message: 'w1 paused',
    });
    // it paused before the others could take over (its own deadline is earlier than etcd's expiry)
    const pausedAfter = Date.now() - t0;
    expect(pausedAfter).toBeLessThan(2000);
    await waitFor(() => exactlyOnce([w2, w3], expected), {
      timeoutMs: 6000,
      message: 'w2+w3 own everything',
    });
    await proxy.heal();
    await waitFor(() => w1.coord.ready(), { timeoutMs: 8000, message: 'w1 back' });
    await waitFor(() => exactlyOnce([w1, w2, w3], expected), {
      timeoutMs: 3000,
      message: 'exactly once after heal',
    });
  });

  it('pause mode: a short blip (shorter than the lease) changes nothing', async () => {
    const { expected, w1, w2, w3 } = await threeWorkers('blip', {
      onPartition: 'pause',
      leaseTtlSec: 5,
      tuning: { rebalance: false },
    });
    await waitFor(() => exactlyOnce([w1, w2, w3], expected), { timeoutMs: 5000, message: 'settled' });
    const before = [...w1.jobs().keys()].sort();
    const changes = w1.history.length;
    await proxy.cut('drop');
    await waitFor(() => (w1.coord as unknown as { lastNetFailureAt: number }).lastNetFailureAt > 0, {
      timeoutMs: 5000,
      message: 'w1 noticed the cut',
    });
    await proxy.heal();
    await waitFor(() => w1.coord.status().etcdUp, { timeoutMs: 5000, message: 'w1 reconnected' });
    expect([...w1.jobs().keys()].sort()).toEqual(before);
    expect(w1.history.length).toBe(changes);
    expect(w1.coord.mayRun()).toBe(true);
  });

  it('continue mode with refused connections (reset, not blackholed): takes over and heals the same way', async () => {
    const { expected, w1, w2, w3 } = await threeWorkers('part-refuse', { tuning: { rebalance: false } });
    await proxy.cut('refuse');
    await waitFor(() => exactlyOnce([w2, w3], expected), {
      timeoutMs: 6000,
      message: 'w2+w3 own everything',
    });
    await waitFor(() => !w1.coord.ready() && w1.coord.mayRun(), {
      timeoutMs: 3000,
      message: 'w1 cut off, still running',
    });
    await proxy.heal();
    await waitFor(() => exactlyOnce([w1, w2, w3], expected) && w1.coord.ready(), {
      timeoutMs: 8000,
      message: 'no duplicates after heal',
    });
  });

  it('SIGSTOP past the lease: on resume it does not run before rechecking, then gives up what others own', async () => {
    const clock = new PausableClock();
    const { expected, w1, w2, w3 } = await threeWorkers('sigstop', { clock, tuning: { rebalance: false } });
    expect(w1.coord.mayRun()).toBe(true);
    // freeze w1: no timers run and no bytes move
    clock.pause();
    await proxy.cut('drop');
    await waitFor(() => exactlyOnce([w2, w3], expected), {
      timeoutMs: 6000,
      message: 'w2+w3 own everything',
    });
    // resume
    await proxy.heal();
    // the very first question the engine asks after SIGCONT: may I run? (before any timer fired)
    expect(w1.coord.mayRun()).toBe(false);
    clock.resume();
    await waitFor(() => exactlyOnce([w1, w2, w3], expected) && w1.coord.ready(), {
      timeoutMs: 5000,
      message: 'w1 recovered, no duplicates',
    });
  });

  it('etcd down and back (leases survive a restart): every worker keeps its jobs, no duplicates', async () => {
    const desired = snapshot(names(10));
    const expected = [...desired.raw.keys()];
    const ws = ['e1', 'e2'].map((id) =>
      worker(id, 'etcd-restart', () => desired, { leaseTtlSec: 2, tuning: { rebalance: false } }),
    );
    await Promise.all(ws.map((w) => w.coord.start()));
    await waitFor(() => exactlyOnce(ws, expected), { timeoutMs: 5000, message: 'settled' });
    await etcd.stopAll();
    await waitFor(() => ws.every((w) => !w.coord.ready()), { timeoutMs: 5000, message: 'both lost etcd' });
    // continue mode: both keep running their share
    expect(exactlyOnce(ws, expected)).toBe(true);
    expect(ws.every((w) => w.coord.mayRun())).toBe(true);
    await etcd.startAll();
    await waitFor(() => ws.every((w) => w.coord.ready()), { timeoutMs: 15_000, message: 'both back' });
    await waitFor(() => exactlyOnce(ws, expected), {
      timeoutMs: 5000,
      message: 'exactly once after restart',
    });
  });
});
