#!/usr/bin/env node
/**
 * What one worker's coordinator costs per endpoint of the cluster (memory item of issue 16): a
 * real etcd holds ENDPOINTS jobs (the raw specs of a generated endpoint folder, loaded by the real
 * loader, packed 64 per jobset), one coordinator of dist/cluster/etcd starts and mirrors them, and
 * the V8 heap after a full GC is compared with the heap before it started (the etcd client
 * included) and with the size of the jobset values in etcd. Run with --expose-gc. Build first.
 *
 *   node --expose-gc bench/cluster/mirror-mem.mjs [--endpoints 10000]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, sleep, startEtcd, waitFor } from './lib.mjs';

const { values: a } = parseArgs({ options: { endpoints: { type: 'string', default: '10000' } } });
const N = Number(a.endpoints);
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
const dist = (p) => import(join(ROOT, 'dist', p));
const { loadDir } = await dist('config/index.js');
const { createEtcdCoordinator } = await dist('cluster/etcd/coordinator.js');
const { createMetrics } = await dist('metrics.js');
const { silentLogger } = await dist('model/logger.js');
const { normalizeEndpoint } = await dist('config/index.js');

const dir = mkdtempSync(join(tmpdir(), 'watcher-mirror-mem-'));
for (let f = 0; f < Math.ceil(N / 1000); f++) {
  let text = 'defaults:\n  scheme: https\n  timeout: 5s\n  alert:\n    failure_threshold: 3\n';
  for (let k = f * 1000; k < Math.min(N, (f + 1) * 1000); k++)
    text += `api-${k}.example.com/health:\n  interval: ${10 + (k % 50)}s\n  response_json_values: [status, version]\n  success_test:\n    - { status_code: 200 }\n    - { key: status, value: ok }\n  tags: [team:${k % 7}, env:prod]\n`;
  writeFileSync(join(dir, `f${f}.yml`), text);
}
const snap = await loadDir(dir);
rmSync(dir, { recursive: true, force: true });
const rawList = [...snap.raw.values()];
const etcd = await startEtcd();
let valueBytes = 0;
const ids = [];
for (let j = 0; j * 64 < rawList.length; j++) {
  const jobs = {};
  const rates = {};
  for (const r of rawList.slice(j * 64, (j + 1) * 64)) {
    jobs[r.name] = r;
    rates[r.name] = 0.05;
  }
  const v = JSON.stringify({ v: 1, jobs, rates, rate: Object.keys(jobs).length * 0.05 });
  valueBytes += Buffer.byteLength(v);
  const id = `js-${String(j).padStart(6, '0')}`;
  ids.push(id);
  await etcd.client.put(`/watcher/mem/jobsets/${id}`).value(v);
}
snap.raw.clear();
rawList.length = 0;
const heap = () => {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage();
};
const m0 = heap();
const c = createEtcdCoordinator({
  endpoints: [etcd.url],
  cluster: 'mem',
  workerId: 'm1',
  address: '127.0.0.1:1',
  version: 'mem',
  leaseTtlSec: 5,
  capacity: 64, // owns one jobset (64 jobs): what is measured is the view of the others
  onPartition: 'continue',
  normalize: (raw) => {
    const r = normalizeEndpoint(raw, {});
    return 'endpoint' in r ? r.endpoint : null;
  },
  desired: () => null,
  metrics: createMetrics({ defaultMetrics: false }),
  logger: silentLogger,
  peerWatch: { successors: 0 },
});
await c.start();
await waitFor(() => c.ownedJobsets().length > 0, 30_000, 'owns a jobset');
await sleep(3000);
const m1 = heap();
await c.stop();
etcd.stop();
const perEp = (m1.heapUsed - m0.heapUsed) / N;
process.stdout.write(
  `${JSON.stringify({
    bench: 'mirror-mem',
    endpoints: N,
    jobsets: ids.length,
    jobsetValueBytesPerEndpoint: Math.round(valueBytes / N),
    heapUsedDeltaMb: Math.round((m1.heapUsed - m0.heapUsed) / 2 ** 20),
    heapBytesPerEndpoint: Math.round(perEp),
    externalDeltaMb: Math.round((m1.external - m0.external) / 2 ** 20),
    rssDeltaMb: Math.round((m1.rss - m0.rss) / 2 ** 20),
  })}\n`,
);
process.exit(0);
