/**
 * Lag shedding with real worker processes: a worker made slow on purpose (test hooks: 20 check
 * slots per thread, each check holding its slot 600 ms → at most ~33 checks/s on its one thread)
 * owns 40 jobs at 1/s, falls behind, sheds to an idle worker; every job's lag falls below the
 * threshold (100 ms = 10% of 1 s), and then nothing flaps: the slow worker recovers once, is
 * never handed back what it shed (rate cap), and never sheds again.
 *
 * The steady-load observation lasts a minute, as the issue asks: it spans the whole 30 s recovery
 * window (where shedding ends and the worker may take work again) and several 5 s shedding windows
 * after it, which is where a flap (re-claim → overload → shed) would show.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { killAllSpawned } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';
import { type BalanceWorker, endpointsFolder, owned, readResults, startWorker } from './support.js';

let etcd: EtcdCluster;
let target: Target;

beforeAll(async () => {
  [etcd, target] = await Promise.all([startEtcdCluster({ members: 1 }), startTarget()]);
});
afterAll(async () => {
  await killAllSpawned();
  await Promise.all([etcd?.close(), target?.close()]);
});

// Many slots of a long cost rather than 2 of 60 ms (same capacity): with 2 coarse slots, the ~22
// jobs the worker keeps after shedding (70% of its capacity) queue behind each other whenever their
// phases fall close together, and a queueing simulation of those phases put one job permanently
// above the 100 ms threshold in about one run in five; with 20 slots, about one in 1,500.
const SLOW_ENV = {
  WATCHER_TEST_HOOKS: '1',
  WATCHER_TEST_CHECK_SLOTS: '20',
  WATCHER_TEST_CHECK_COST_MS: '600',
};
const THRESHOLD_MS = 100;

interface WorkerRecord {
  id: string;
  shedding: boolean;
}

async function workerRecord(w: BalanceWorker, id: string): Promise<WorkerRecord | undefined> {
  const st = (await w.http('/api/v1/status?scope=local')).json<{ cluster: { workers: WorkerRecord[] } }>();
  return st.cluster.workers.find((x) => x.id === id);
}

/** Per job: its lag as the engine judges it (smallest of its last 3 checks), over both workers. */
function jobLags(files: string[]): Map<string, { lag: number; lastStart: number }> {
  const byJob = new Map<string, Array<{ s: number; lag: number }>>();
  for (const f of files) {
    for (const r of readResults(f)) {
      const list = byJob.get(r.endpoint) ?? [];
      list.push({ s: r.started_at, lag: r.started_at - r.scheduled_at });
      byJob.set(r.endpoint, list);
    }
  }
  const out = new Map<string, { lag: number; lastStart: number }>();
  for (const [job, list] of byJob) {
    list.sort((a, b) => a.s - b.s);
    const last3 = list.slice(-3);
    out.set(job, { lag: Math.min(...last3.map((x) => x.lag)), lastStart: last3.at(-1)?.s ?? 0 });
  }
  return out;
}

describe('lag shedding (worker processes)', () => {
  it('a slow worker sheds to an idle worker, every job’s lag falls below the threshold, and nothing flaps', async () => {
    const folder = endpointsFolder(target, 40, { prefix: 's' });
    const slow = await startWorker({
      id: 'slow',
      etcd: etcd.clientUrls,
      folder,
      cluster: 'shed',
      env: SLOW_ENV,
    });
    await waitFor(async () => (await owned(slow)) === 40, { timeoutMs: 15_000, message: 'slow owns all 40' });
    // 40 checks/s for ~33/s of service: it falls behind and (alone) publishes that it is shedding
    await waitFor(async () => (await workerRecord(slow, 'slow'))?.shedding === true, {
      timeoutMs: 20_000,
      message: 'slow publishes shedding',
    });
    const idle = await startWorker({ id: 'idle', etcd: etcd.clientUrls, folder, cluster: 'shed' });
    const joinedAt = Date.now();
    await slow.waitForLog((l) => l.msg === 'shed jobsets into the waiting queue', 20_000);
    const files = [slow.resultsFile, idle.resultsFile];
    await waitFor(
      () => {
        const now = Date.now();
        const lags = jobLags(files);
        return (
          lags.size === 40 &&
          [...lags.values()].every((j) => j.lag < THRESHOLD_MS && now - j.lastStart < 3000)
        );
      },
      { timeoutMs: 45_000, intervalMs: 500, message: 'every job’s lag below 100 ms' },
    );
    const settledMs = Date.now() - joinedAt;
    const [slowJobs, idleJobs] = await Promise.all([owned(slow), owned(idle)]);
    expect(slowJobs + idleJobs).toBe(40);
    expect(slowJobs).toBeLessThan(34); // it serves ~33/s at most
    expect(idleJobs).toBeGreaterThan(0);
    console.log(
      `[balance] shed: lag < ${THRESHOLD_MS} ms for every job ${settledMs} ms after the idle worker joined; slow ${slowJobs}, idle ${idleJobs}`,
    );

    // Steady load for a minute (see the header): the slow worker recovers once and never flaps.
    const shedsBefore = slow.logs().filter((l) => l.msg === 'shed jobsets into the waiting queue').length;
    const slowSeries: number[] = [];
    const until = Date.now() + 60_000;
    await waitFor(
      async () => {
        const n = await owned(slow);
        if (Number.isFinite(n)) slowSeries.push(n);
        return Date.now() >= until;
      },
      { timeoutMs: 70_000, intervalMs: 1000, message: 'a minute of steady load' },
    );
    const logs = slow.logs();
    expect(logs.filter((l) => l.msg === 'falling behind: shedding work, not claiming')).toHaveLength(1);
    expect(logs.filter((l) => l.msg === 'shed jobsets into the waiting queue')).toHaveLength(shedsBefore);
    expect(logs.some((l) => String(l.msg).startsWith('lag recovered'))).toBe(true);
    // never handed back work: its share only shrinks or stays (rebalance may still even it out)
    for (let i = 1; i < slowSeries.length; i++) expect(slowSeries[i]).toBeLessThanOrEqual(slowSeries[i - 1]!);
    expect(idle.logs().filter((l) => l.msg === 'handed jobset over (rebalance)')).toEqual([]);
    // and the lag stayed low
    const end = jobLags(files);
    expect([...end.values()].filter((j) => j.lag >= THRESHOLD_MS)).toEqual([]);
    const rec = await workerRecord(idle, 'slow');
    expect(rec?.shedding).toBe(false);
  }, 150_000);
});
