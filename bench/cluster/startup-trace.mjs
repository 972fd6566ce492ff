#!/usr/bin/env node
/**
 * Where start-up time goes at scale: 3 workers (real processes, one etcd) started together on
 * 10,000 endpoints every 10 s. Every 500 ms prints: jobsets in etcd, jobsets owned, jobs owned
 * per worker (watcher_jobs_owned), endpoints checked at least once. Build first.
 *
 *   node bench/cluster/startup-trace.mjs [--endpoints 10000] [--workers 3] [--seconds 60]
 *
 * Each worker logs to /tmp/startup-trace-w<N>.log at TRACE_LOG_LEVEL (default info; debug shows
 * every claim).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startTarget, writeEndpoints } from '../engine/lib.mjs';
import { jobsetIds, owners, sleep, spawnWorker, startEtcd } from './lib.mjs';

const { values: a } = parseArgs({
  options: {
    endpoints: { type: 'string', default: '10000' },
    workers: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '60' },
    'lease-ttl': { type: 'string', default: '3' },
  },
});
const N = Number(a.endpoints);
const etcd = await startEtcd();
const target = await startTarget('auto');
const dir = writeEndpoints({ port: target.port, count: N, interval: '10s', keepalive: false });
const workers = [];
const t0 = Date.now();
const s = () => ((Date.now() - t0) / 1000).toFixed(1).padStart(5);
try {
  for (let i = 1; i <= Number(a.workers); i++) {
    workers.push(
      await spawnWorker({
        id: `w${i}`,
        etcd: etcd.url,
        cluster: 'trace',
        endpointsDir: dir,
        leaseTtl: Number(a['lease-ttl']),
        threads: 1,
        logLevel: process.env.TRACE_LOG_LEVEL ?? 'info',
        logFile: `/tmp/startup-trace-w${i}.log`,
      }),
    );
  }
  const ready = new Map();
  for (const w of workers) w.ready(90_000).then(() => ready.set(w.id, s()));
  const deadline = Date.now() + Number(a.seconds) * 1000;
  // cumulative: an endpoint checked by one worker and then moved to another was checked
  const seen = new Set();
  while (Date.now() < deadline) {
    const ids = await jobsetIds(etcd.client, 'trace').catch(() => []);
    const o = await owners(etcd.client, 'trace').catch(() => new Map());
    const owned = [...o.values()].filter(Boolean).length;
    const per = [];
    for (const w of workers) {
      try {
        const jo = Object.values(await w.metric('watcher_jobs_owned'))[0] ?? 0;
        let c = 0;
        for (const [labels, v] of Object.entries(await w.metric('watcher_checks_total'))) {
          if (v > 0) {
            seen.add(/endpoint="([^"]*)"/.exec(labels)?.[1]);
            c++;
          }
        }
        per.push(`${w.id}:${jo}/${c}`);
      } catch {
        per.push(`${w.id}:-`);
      }
    }
    console.log(
      `${s()}s jobsets=${ids.length} owned=${owned} checked=${seen.size} ${per.join(' ')} ready=${[...ready].map(([k, v]) => `${k}@${v}`).join(',')}`,
    );
    if (seen.size >= N) {
      await sleep(10_000);
      const rss = workers.map((w) => {
        const st = readFileSync(`/proc/${w.pid}/status`, 'utf8');
        return `${w.id}:${Math.round(Number(/VmRSS:\s+(\d+)/.exec(st)[1]) / 1024)}MB`;
      });
      console.log(`RSS 10 s after all checked: ${rss.join(' ')}`);
      break;
    }
    await sleep(500);
  }
} finally {
  for (const w of workers) await w.stop();
  await etcd.stop?.();
  await target.stop?.();
  process.exit(0);
}
