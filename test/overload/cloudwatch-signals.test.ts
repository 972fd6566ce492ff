/**
 * The admin alone sends the autoscaling signals to CloudWatch (a `self` block with
 * `post_service: aws-cloudwatch`), through the real AWS SDK to a local double: JobsWaiting,
 * SpareCapacity and WorkersNeeded under the `Cluster` dimension, with the values every
 * worker exports.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudWatchDouble } from '../support/doubles/cloudwatch-double.js';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { killAllSpawned, removeOnExit, spawnWorker } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';

let etcd: EtcdCluster;
let target: Target;
let cw: CloudWatchDouble;
beforeAll(async () => {
  [etcd, target, cw] = await Promise.all([
    startEtcdCluster({ members: 1 }),
    startTarget(),
    CloudWatchDouble.start(),
  ]);
});
afterAll(async () => {
  await killAllSpawned();
  await Promise.all([etcd?.close(), target?.close(), cw?.close()]);
});

describe('cluster signals to CloudWatch (worker processes)', () => {
  it('the admin sends JobsWaiting, SpareCapacity and WorkersNeeded with the Cluster dimension', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'watcher-cwsig-'));
    removeOnExit(dir);
    const lines = [
      'self:',
      '  post_service: aws-cloudwatch',
      '  aws_region: us-east-1',
      'defaults:',
      '  scheme: http',
      '  interval: 1s',
    ];
    for (let i = 0; i < 20; i++) lines.push(`127.0.0.1:${target.port}/count/cw${i}: {}`);
    writeFileSync(join(dir, 'endpoints.yml'), `${lines.join('\n')}\n`);
    const env = {
      AWS_ENDPOINT_URL_CLOUDWATCH: cw.url,
      AWS_ACCESS_KEY_ID: 'AKIDTEST',
      AWS_SECRET_ACCESS_KEY: 'secret-for-tests',
      AWS_REGION: 'us-east-1',
    };
    const start = (id: string) =>
      spawnWorker({
        id,
        etcd: etcd.clientUrls,
        endpointsDir: dir,
        leaseTtl: 3,
        extraArgs: ['--cluster', 'cwsig', '--threads', '1', '--capacity', '50'],
        env,
      });
    const a = await start('cw-a');
    await a.waitReady(20_000, '/readyz');
    const b = await start('cw-b');
    await b.waitReady(20_000, '/readyz');
    const signals = () =>
      cw.puts.flatMap((p) => p.MetricData.filter((d) => d.Dimensions?.some((x) => x.Name === 'Cluster')));
    await waitFor(() => new Set(signals().map((d) => d.MetricName)).size === 3, {
      timeoutMs: 20_000,
      message: 'three cluster signals sent',
    });
    // 20 jobs for 2 workers of capacity 50: nothing waits, ceil(20 / 50) = 1 worker needed, 80 spare
    // (sent again as soon as the admin has packed the jobs; the first send may precede that)
    await waitFor(() => cw.values('WorkersNeeded').includes(1) && cw.values('SpareCapacity').includes(80), {
      timeoutMs: 20_000,
      message: 'WorkersNeeded 1 and SpareCapacity 80 sent',
    });
    for (const d of signals()) expect(d.Dimensions).toEqual([{ Name: 'Cluster', Value: 'cwsig' }]);
    expect(new Set(cw.values('JobsWaiting'))).toEqual(new Set([0]));
    expect(cw.violations).toEqual([]);
    const exported = (await b.http('/metrics')).body;
    expect(exported).toMatch(/^watcher_cluster_workers_needed 1$/m);
    expect(exported).toMatch(/^watcher_cluster_spare_capacity 80$/m);
    await Promise.all([a.stop(), b.stop()]);
  }, 60_000);
});
