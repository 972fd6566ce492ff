#!/usr/bin/env node
/**
 * Cluster rows with real processes: one real etcd member, `watcher run --etcd` workers, a local
 * nginx (or Node) target. Build first. Bounded: ~4 min with --quick, ~9 min in full.
 *
 *   node bench/cluster/rows.mjs [--quick] [--kills 20] [--lease-ttl 3]
 *
 * 1. Start-up: 3 workers started together with 10,000 endpoints (interval 10 s, files of 1,000):
 *    time from the last worker ready until every endpoint was checked once (sum over the workers'
 *    `watcher_checks_total` series), against the interval.
 * 2. etcd load in steady state at 10,000, then 1,000 endpoints (the folder shrunk; admin
 *    reconciles): etcd's own gRPC counters (unary calls + stream messages) and bytes per second.
 * 3. Failover: 5 workers, 1,000 endpoints; `kill -9` of a non-admin worker that owns jobsets, time
 *    until etcd shows every jobset owned by a live worker again (vs --lease-ttl), repeated; the
 *    killed worker comes back each time. CAS attempts per won claim (watcher_claims_total of the
 *    survivors, won+lost over won) over the kills.
 * 4. Admin failover: `kill -9` of the admin, time until another worker holds the admin key.
 * Prints one JSON line {rows, raw}.
 */
import { rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startTarget, writeEndpoints } from '../engine/lib.mjs';
import {
  adminOf,
  etcdCounters,
  jobsetIds,
  owners,
  percentile,
  rates,
  sleep,
  spawnWorker,
  startEtcd,
  waitFor,
} from './lib.mjs';
import { benchRow, r1 } from './row.mjs';

const { values: a } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    kills: { type: 'string' },
    'lease-ttl': { type: 'string', default: '3' },
    'admin-kills': { type: 'string' },
  },
});
const quick = a.quick;
const KILLS = Number(a.kills ?? (quick ? 5 : 20));
const ADMIN_KILLS = Number(a['admin-kills'] ?? (quick ? 1 : 3));
const TTL = Number(a['lease-ttl']);
const WINDOW_S = quick ? 10 : 20;
const CLUSTER = 'bench';
const log = (...x) => console.error(`[cluster ${new Date().toISOString().slice(11, 19)}]`, ...x);
const row = benchRow;

async function sumOf(workers, name) {
  let n = 0;
  for (const w of workers) {
    try {
      for (const v of Object.values(await w.metric(name))) n += v;
    } catch {}
  }
  return n;
}

/**
 * Endpoints checked at least once so far, by any worker. Cumulative (`seen` is kept across polls):
 * an endpoint checked by one worker and then moved to another by rebalancing was checked, though
 * its old owner dropped its series and the new one has not checked it yet.
 */
async function checkedEndpoints(workers, seen = new Set()) {
  for (const w of workers) {
    try {
      for (const [labels, v] of Object.entries(await w.metric('watcher_checks_total'))) {
        if (v > 0) seen.add(/endpoint="([^"]*)"/.exec(labels)?.[1]);
      }
    } catch {}
  }
  return seen.size;
}

async function steadyLoad(etcd, seconds) {
  const c0 = await etcdCounters(etcd.url);
  await sleep(seconds * 1000);
  return rates(c0, await etcdCounters(etcd.url));
}

const rows = [];
const raw = {};
const etcd = await startEtcd();
const target = await startTarget('auto');
const dir = writeEndpoints({ port: target.port, count: 10_000, interval: '10s', keepalive: false });
const workers = [];
const spawnW = (id) =>
  spawnWorker({ id, etcd: etcd.url, cluster: CLUSTER, endpointsDir: dir, leaseTtl: TTL, threads: 1 });
try {
  // 1. start-up with 10,000 endpoints over 3 workers
  log('start-up: 3 workers, 10,000 endpoints every 10 s');
  const t0 = Date.now();
  for (const id of ['w1', 'w2', 'w3']) workers.push(await spawnW(id));
  const readyAt = Math.max(...(await Promise.all(workers.map((w) => w.ready(90_000)))));
  const seenChecked = new Set();
  const allAt = await waitFor(
    async () => (await checkedEndpoints(workers, seenChecked)) >= 10_000,
    90_000,
    'all checked',
    1000,
  );
  raw.startup = { spawnToReadyMs: readyAt - t0, readyToAllCheckedMs: allAt - readyAt };
  rows.push(
    row(
      'start-up: last worker ready → every one of 10,000 endpoints checked (3 workers)',
      r1((allAt - readyAt) / 1000),
      's',
      'interval',
      10,
      '≤ 1× interval',
      `spawn → ready ${r1((readyAt - t0) / 1000)} s; polled every 1 s`,
    ),
  );
  const rss = [];
  for (const w of workers) {
    const s = await import('node:fs').then((fs) => fs.readFileSync(`/proc/${w.pid}/status`, 'utf8'));
    rss.push(Number(/VmRSS:\s+(\d+)/.exec(s)[1]) / 1024);
  }
  raw.rss10k = rss;
  // where the RSS is: the main thread's V8 heap (prom-client default metrics) vs the rest
  // (check threads' heaps, code, malloc)
  raw.mainHeapMb10k = [];
  for (const w of workers) {
    const used = Object.values(await w.metric('nodejs_heap_size_used_bytes'))[0];
    const ext = Object.values(await w.metric('nodejs_external_memory_bytes'))[0];
    raw.mainHeapMb10k.push({ heapUsed: Math.round(used / 2 ** 20), external: Math.round(ext / 2 ** 20) });
  }
  rows.push(
    row(
      'RSS per worker at ~3,333 endpoints (max of 3)',
      Math.round(Math.max(...rss)),
      'MB',
      null,
      null,
      '≤ 150 MB',
    ),
  );

  // 2. etcd load, 10,000 then 1,000 endpoints
  await sleep(5000);
  log(`etcd load at 10,000 endpoints (${WINDOW_S} s)`);
  const l10k = await steadyLoad(etcd, WINDOW_S);
  for (let f = 1; f < 10; f++) unlinkSync(join(dir, `bench-${String(f).padStart(3, '0')}.yml`));
  log('folder shrunk to 1,000 endpoints; waiting for the cluster to follow');
  await waitFor(
    async () => (await sumOf(workers, 'watcher_jobs_owned')) === 1000,
    60_000,
    'jobs owned = 1000',
    500,
  );
  await sleep(15_000); // the reconcile's deletes and moves are over
  log(`etcd load at 1,000 endpoints (${WINDOW_S} s)`);
  const l1k = await steadyLoad(etcd, WINDOW_S);
  raw.etcd = { l10k, l1k };
  rows.push(
    row(
      'etcd requests/s, steady, 10,000 endpoints (unary + stream msgs)',
      r1(l10k.requestsPerS),
      '/s',
      '1,000 endpoints',
      r1(l1k.requestsPerS),
      'within 10% (ratio ≤ 1.1)',
    ),
    row(
      'etcd bytes/s in+out, steady, 10,000 endpoints',
      Math.round(l10k.bytesInPerS + l10k.bytesOutPerS),
      'B/s',
      '1,000 endpoints',
      Math.round(l1k.bytesInPerS + l1k.bytesOutPerS),
      'within 10%',
    ),
    row(
      'etcd writes/s (Put/Txn/Delete), steady, 10,000 endpoints',
      r1(l10k.writesPerS),
      '/s',
      '1,000 endpoints',
      r1(l1k.writesPerS),
    ),
  );

  // 3. failover with 5 workers
  for (const id of ['w4', 'w5']) workers.push(await spawnW(id));
  await Promise.all(workers.slice(3).map((w) => w.ready(60_000)));
  const ids = await jobsetIds(etcd.client, CLUSTER);
  const evenOwned = async (w) => {
    const o = await owners(etcd.client, CLUSTER);
    return [...o.values()].filter((x) => x === w.id).length;
  };
  await waitFor(async () => (await evenOwned(workers[4])) > 0, 60_000, 'w5 owns a jobset', 500).catch(
    () => {},
  );
  const claims0 = {};
  const failovers = [];
  let wonTotal = 0;
  let lostTotal = 0;
  log(`failover: ${KILLS} kill -9 of a worker owning jobsets (${ids.length} jobsets, TTL ${TTL} s)`);
  for (let k = 0; k < KILLS; k++) {
    const admin = await adminOf(etcd.client, CLUSTER);
    const o = await owners(etcd.client, CLUSTER);
    const candidates = workers.filter((w) => w.id !== admin && [...o.values()].includes(w.id));
    if (candidates.length === 0) {
      await sleep(1000);
      continue;
    }
    const victim = candidates[k % candidates.length];
    const survivors = workers.filter((w) => w !== victim);
    for (const w of survivors) claims0[w.id] = await w.metric('watcher_claims_total');
    const had = [...o].filter(([, v]) => v === victim.id).length;
    await victim.kill9();
    const tk = Date.now();
    const done = await waitFor(
      async () => {
        const now = await owners(etcd.client, CLUSTER);
        const live = new Set(survivors.map((w) => w.id));
        return ids.every((id) => live.has(now.get(id)));
      },
      TTL * 1000 + 30_000,
      'failover',
      50,
    );
    failovers.push({ ms: done - tk, jobsets: had });
    await sleep(500);
    for (const w of survivors) {
      const c1 = await w.metric('watcher_claims_total');
      const d = (lbl) =>
        Object.entries(c1)
          .filter(([l]) => l.includes(`"${lbl}"`))
          .reduce((s, [l, v]) => s + v - (claims0[w.id][l] ?? 0), 0);
      wonTotal += d('won');
      lostTotal += d('lost');
    }
    log(`kill ${k + 1}: ${victim.id} (${had} jobsets) → all owned again after ${done - tk} ms`);
    const back = await spawnW(victim.id);
    workers[workers.indexOf(victim)] = back;
    await back.ready(60_000);
    await waitFor(async () => (await evenOwned(back)) > 0, 30_000, `${back.id} owns a jobset`, 250).catch(
      () => log(`${back.id} got no jobset within 30 s`),
    );
  }
  const ms = failovers.map((f) => f.ms);
  raw.failovers = failovers;
  rows.push(
    ...[50, 99, 100].map((q) =>
      row(
        `failover after kill -9, ${q === 100 ? 'max' : `p${q}`} of ${ms.length}`,
        r1(percentile(ms, q) / 1000),
        's',
        '--lease-ttl',
        TTL,
        q === 50 ? '≤ TTL + 2 s' : '',
      ),
    ),
    row(
      'CAS attempts per won claim after a loss (5 workers)',
      wonTotal > 0 ? Math.round(((wonTotal + lostTotal) / wonTotal) * 100) / 100 : null,
      'attempts',
      null,
      null,
      '≤ 1.2',
      `${wonTotal} won, ${lostTotal} lost over ${ms.length} kills`,
    ),
  );

  // 4. admin failover
  const adminMs = [];
  for (let k = 0; k < ADMIN_KILLS; k++) {
    const admin = await adminOf(etcd.client, CLUSTER);
    const victim = workers.find((w) => w.id === admin);
    if (!victim) break;
    await victim.kill9();
    const tk = Date.now();
    const done = await waitFor(
      async () => {
        const now = await adminOf(etcd.client, CLUSTER);
        return now !== null && now !== victim.id;
      },
      TTL * 1000 + 30_000,
      'admin failover',
      50,
    );
    adminMs.push(done - tk);
    log(`admin kill ${k + 1}: ${victim.id} → new admin after ${done - tk} ms`);
    const back = await spawnW(victim.id);
    workers[workers.indexOf(victim)] = back;
    await back.ready(60_000);
  }
  raw.adminFailoverMs = adminMs;
  if (adminMs.length > 0)
    rows.push(
      row(
        `admin failover after kill -9, max of ${adminMs.length}`,
        r1(Math.max(...adminMs) / 1000),
        's',
        '--lease-ttl',
        TTL,
        '≤ TTL + 2 s',
      ),
    );
} finally {
  await Promise.all(workers.map((w) => w.kill9()));
  await target.stop();
  etcd.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify({ bench: 'cluster-rows', leaseTtl: TTL, rows, raw })}\n`);
process.exit(0);
