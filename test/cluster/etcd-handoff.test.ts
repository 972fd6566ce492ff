/**
 * Where a new owner catches up from, and whether a worker runs while it recovers — the bugs the
 * process-level fault tests (test/faults) found, pinned at the coordinator level:
 * - a graceful release names the slot boundary the engine reached (dispatch horizon + 1), not the
 *   moment of the release transaction (slots in between were lost);
 * - a `pause` owner ran its jobsets until its own deadline: a taker catches up only from
 *   (expiry seen − that owner's published margin), never a slot the owner already ran;
 * - a `continue` worker keeps running what it holds while it re-lists after a partition.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigSnapshot } from '../../src/config/types.js';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { startProxy, type TcpProxy } from '../support/proxy.js';
import { waitFor, withTimeout } from '../support/wait.js';
import {
  exactlyOnce,
  makeWorker,
  names,
  snapshot,
  type TestWorker,
  type WorkerOptions,
} from './etcd-helpers.js';

let etcd: EtcdCluster;
let proxy: TcpProxy;
const started: TestWorker[] = [];

beforeAll(async () => {
  etcd = await startEtcdCluster({ members: 1 });
  const u = new URL(etcd.clientUrls[0]!);
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
  const w = makeWorker(o.viaProxy ? [proxy.url] : etcd.clientUrls, id, {
    cluster,
    desired,
    ...o,
    tuning: { rebalance: false, ...o.tuning },
  });
  started.push(w);
  return w;
}

/** w1 (through the proxy) owns everything, then w2 and w3 join (direct). */
async function threeWorkers(cluster: string, o: WorkerOptions = {}) {
  const desired = snapshot(names(12));
  const expected = [...desired.raw.keys()];
  const w1 = worker('w1', cluster, () => desired, { ...o, viaProxy: true });
  await w1.coord.start();
  await waitFor(() => w1.jobs().size === 12, { timeoutMs: 5000, message: 'w1 owns everything' });
  const w2 = worker('w2', cluster, () => desired);
  const w3 = worker('w3', cluster, () => desired);
  await Promise.all([w2.coord.start(), w3.coord.start()]);
  return { expected, w1, w2, w3 };
}

describe('catch-up points and running during recovery', () => {
  it('a graceful release catches up from just after the last slot the engine handed on', async () => {
    const { expected, w1, w2, w3 } = await threeWorkers('handoff-release', { leaseTtlSec: 10 });
    const horizon = Date.now() - 700; // the engine's last dispatched slot, some time ago
    w1.coord.setDispatchHorizon(() => horizon);
    await w1.coord.stop();
    started.splice(started.indexOf(w1), 1);
    await waitFor(() => exactlyOnce([w2, w3], expected), { timeoutMs: 3000, message: 'taken over' });
    for (const name of expected) {
      const job = (w2.jobs().get(name) ?? w3.jobs().get(name))!;
      expect(job.takenOver, name).toBe(true);
      expect(job.dueSince, name).toBe(horizon + 1);
    }
  });

  it('a pause owner cut off: takers never catch up a slot it could still have run', async () => {
    const { expected, w1, w2, w3 } = await threeWorkers('handoff-pause', { onPartition: 'pause' });
    const session = () => (w1.coord as unknown as { session: { deadlineAt(): number } }).session;
    let stoppedAt = 0;
    w1.coord.on('partition', (s) => {
      if (s.state === 'expired') stoppedAt = session().deadlineAt();
    });
    await proxy.cut('drop');
    await waitFor(() => exactlyOnce([w2, w3], expected) && stoppedAt > 0, {
      timeoutMs: 6000,
      message: 'w1 paused and w2+w3 took everything',
    });
    // w1 ran its jobs while now < its deadline: a slot before that may have run there
    for (const name of expected) {
      const job = (w2.jobs().get(name) ?? w3.jobs().get(name))!;
      expect(job.takenOver, name).toBe(true);
      expect(job.dueSince, name).toBeGreaterThanOrEqual(stoppedAt);
      expect(job.dueSince, name).toBeLessThanOrEqual(Date.now());
    }
  });

  it('a continue worker keeps running what it holds while it recovers after a partition', async () => {
    const { w1 } = await threeWorkers('handoff-continue', { onPartition: 'continue' });
    const expired = new Promise<void>((resolve) =>
      w1.coord.on('partition', (s) => s.state === 'expired' && resolve()),
    );
    const recovered = new Promise<void>((resolve) =>
      w1.coord.on('partition', (s) => s.state === 'recovered' && resolve()),
    );
    await proxy.cut('drop');
    await expired;
    expect(w1.coord.mayRun()).toBe(true); // partition evidence
    // sample mayRun() on every timer turn from the heal until recovery completes
    let refusals = 0;
    let samples = 0;
    const sampler = setInterval(() => {
      samples++;
      if (w1.jobs().size > 0 && !w1.coord.mayRun()) refusals++;
    }, 1);
    try {
      await proxy.heal();
      await withTimeout(recovered, 8000, 'w1 recovery after heal');
    } finally {
      clearInterval(sampler);
    }
    expect(samples).toBeGreaterThan(0);
    expect(refusals).toBe(0);
    expect(w1.coord.mayRun()).toBe(true);
  });
});
