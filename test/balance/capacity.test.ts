/**
 * `--capacity` and the waiting queue: jobs beyond the cluster's room wait in etcd (exported by
 * every worker), the admin raises "scaling limit hit" to the `self` sinks after
 * `--scaling-alert-after`, and "resolved" once a worker with room drains the queue.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpDouble } from '../support/doubles/http-double.js';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { killAllSpawned } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';
import { endpointsFolder, metric, owned, startWorker } from './support.js';

let etcd: EtcdCluster;
let target: Target;
let hook: HttpDouble;

beforeAll(async () => {
  [etcd, target, hook] = await Promise.all([
    startEtcdCluster({ members: 1 }),
    startTarget(),
    new HttpDouble(() => ({ status: 202, body: '{}' })).start(),
  ]);
});
afterAll(async () => {
  await killAllSpawned();
  await Promise.all([etcd?.close(), target?.close(), hook?.close()]);
});

const hookEvents = (kind: string) => hook.requests.filter((r) => r.body.toString('utf8').includes(kind));

describe('capacity and the scaling limit (worker processes)', () => {
  it('--capacity 10 with 40 jobs: 30 wait, the alert goes to the self webhook, resolved when drained', async () => {
    const folder = endpointsFolder(target, 40, { prefix: 'c', hook: `${hook.url}/hook` });
    const startedAt = Date.now();
    const c = await startWorker({
      id: 'cap10',
      etcd: etcd.clientUrls,
      folder,
      cluster: 'cap',
      extraArgs: ['--capacity', '10', '--scaling-alert-after', '2'],
    });
    await waitFor(
      async () =>
        (await owned(c)) === 10 &&
        (await metric(c, 'watcher_jobs_waiting')) === 30 &&
        (await metric(c, 'watcher_cluster_spare_capacity')) === 0,
      { timeoutMs: 15_000, message: 'cap10 owns 10, 30 waiting, no spare capacity' },
    );
    const hit = await waitFor(() => hookEvents('scaling_limit_hit')[0], {
      timeoutMs: 10_000,
      message: 'scaling_limit_hit posted to the self webhook',
    });
    // not before the threshold (2 s after the jobs started waiting)
    expect(hit.at - startedAt).toBeGreaterThanOrEqual(2000);
    expect(hit.body.toString('utf8')).toContain('30 jobs waiting');
    expect(hookEvents('scaling_limit_resolved')).toEqual([]);
    // only the owned 10 are checked
    const checked = new Set(target.hitLog.map((h) => h.path));
    expect(checked.size).toBe(10);

    // a worker with room for the queue joins: the queue drains, the admin resolves the alert
    const d = await startWorker({
      id: 'cap30',
      etcd: etcd.clientUrls,
      folder,
      cluster: 'cap',
      extraArgs: ['--capacity', '30'],
    });
    await waitFor(
      async () =>
        (await owned(d)) === 30 &&
        (await metric(d, 'watcher_jobs_waiting')) === 0 &&
        (await metric(c, 'watcher_jobs_waiting')) === 0 &&
        (await metric(d, 'watcher_cluster_spare_capacity')) === 0,
      { timeoutMs: 15_000, message: 'cap30 takes the 30 waiting jobs' },
    );
    await waitFor(() => hookEvents('scaling_limit_resolved')[0], {
      timeoutMs: 10_000,
      message: 'scaling_limit_resolved posted to the self webhook',
    });
    expect(hookEvents('scaling_limit_hit')).toHaveLength(1);
    expect(await owned(c)).toBe(10);
  }, 60_000);
});
