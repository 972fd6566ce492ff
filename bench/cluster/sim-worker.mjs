#!/usr/bin/env node
/**
 * SIMULATION host for bench/cluster/sim.mjs: COUNT in-process workers, each the real etcd
 * coordinator of dist/cluster/etcd (lease, claims, mirror, admin election, rebalancing) with no
 * check engine behind it: a worker's "checks" are a stub that costs nothing. So this measures
 * coordination, not checking. Peer-observed death is off (there are no status servers to
 * watch), so a lost worker's jobsets move on lease expiry.
 *
 *   node sim-worker.mjs ETCD_URL CLUSTER ID_PREFIX COUNT LEASE_TTL
 * Prints `ready` once every worker has started; SIGTERM stops them gracefully.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const dist = (p) => import(join(ROOT, 'dist', p));
const { createEtcdCoordinator } = await dist('cluster/etcd/coordinator.js');
const { createMetrics } = await dist('metrics.js');
const { silentLogger } = await dist('model/logger.js');

const [url, cluster, prefix, count, ttl] = process.argv.slice(2);
/** warnings and errors of the coordinators on stderr (SIM_LOG=1), else silent */
const logger =
  process.env.SIM_LOG === '1'
    ? {
        ...silentLogger,
        warn: (o, m) => console.error('warn', m, JSON.stringify(o).slice(0, 300)),
        error: (o, m) => console.error('error', m, JSON.stringify(o).slice(0, 300)),
        child() {
          return logger;
        },
      }
    : silentLogger;
const fakeNormalize = (raw) => ({
  name: raw.name,
  file: raw.file,
  line: raw.line,
  hash: raw.name,
  schedule: { kind: 'interval', everyMs: raw.spec.everyMs },
});
// SIM_LONGTASK=1: log event-loop gaps > 150 ms (a timer every 20 ms that fired late) and GC pauses > 100 ms
if (process.env.SIM_LONGTASK === '1') {
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    if (now - last > 150) console.error(`[${prefix}] event loop blocked ${Math.round(now - last - 20)} ms`);
    last = now;
  }, 20).unref();
  const { PerformanceObserver } = await import('node:perf_hooks');
  new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if (e.duration > 100)
        console.error(`[${prefix}] gc pause ${Math.round(e.duration)} ms (kind ${e.detail?.kind})`);
  }).observe({ entryTypes: ['gc'] });
}
const workers = [];
for (let i = 0; i < Number(count); i++) {
  workers.push(
    createEtcdCoordinator({
      endpoints: [url],
      cluster,
      workerId: `${prefix}${String(i).padStart(2, '0')}`,
      address: '127.0.0.1:1',
      version: 'sim',
      leaseTtlSec: Number(ttl),
      capacity: null,
      onPartition: 'continue',
      normalize: fakeNormalize,
      desired: () => null,
      metrics: createMetrics({ defaultMetrics: false }),
      logger,
      peerWatch: { successors: 0 },
    }),
  );
}
// keeps the host alive while the workers start (a start that never settles would exit 13)
const alive = setInterval(() => {}, 1000);
await Promise.all(workers.map((w) => w.start()));
clearInterval(alive);
process.stdout.write('ready\n');
setInterval(() => {
  const rss = Math.round(process.memoryUsage().rss / 2 ** 20);
  process.stdout.write(
    `${JSON.stringify({ rss, owned: workers.reduce((s, w) => s + w.ownedJobsets().length, 0) })}\n`,
  );
}, 2000);
process.on('SIGTERM', async () => {
  await Promise.race([
    Promise.allSettled(workers.map((w) => w.stop())),
    new Promise((r) => setTimeout(r, 10_000)),
  ]);
  process.exit(0);
});
