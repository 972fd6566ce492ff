#!/usr/bin/env node
/**
 * Scale SIMULATION (coordination only, no checks): WORKERS in-process workers (the real etcd
 * coordinator code, see sim-worker.mjs) in processes of 10, against one real etcd member holding
 * ENDPOINTS jobs packed 64 per jobset as the admin packs them. Build first. Bounded (~3-6 min).
 *
 *   node bench/cluster/sim.mjs [--quick] [--workers 100] [--endpoints 100000] [--lease-ttl 5]
 *
 * Rows: time from starting every worker at once until every jobset is owned (cold start); etcd
 * requests/s and bytes/s during that storm and in steady state; after `kill -9` of one process
 * (10 workers at once), the time until every jobset is owned by a live worker (goal < TTL + 2 s);
 * RSS of a host process. Ownership is read from etcd (owners/ keys) every 250 ms.
 * --quick: 40 workers, 20,000 endpoints. Memory: every worker mirrors every jobset (one
 * coordinator with 100,000 endpoints: ~300 MB RSS), so 100 workers × 100,000 endpoints needs
 * ~30 GB and does not fit a 24 GB machine; run 100 × 20,000 and 20 × 100,000 there.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { etcdCounters, owners, ROOT, rates, sleep, startEtcd, waitFor } from './lib.mjs';
import { benchRow, r1 } from './row.mjs';

const { values: a } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    workers: { type: 'string' },
    endpoints: { type: 'string' },
    'lease-ttl': { type: 'string', default: '5' },
  },
});
const W = Number(a.workers ?? (a.quick ? 40 : 100));
const N = Number(a.endpoints ?? (a.quick ? 20_000 : 100_000));
const TTL = Number(a['lease-ttl']);
const PER_PROCESS = 10;
const PER_JOBSET = 64;
const CLUSTER = 'sim';
const log = (...x) => console.error(`[sim ${new Date().toISOString().slice(11, 19)}]`, ...x);
const row = (figure, ...rest) => benchRow(`SIMULATION (coordination only): ${figure}`, ...rest);

async function writeJobsets(client) {
  const ids = [];
  const sets = Math.ceil(N / PER_JOBSET);
  for (let i = 0; i < sets; i += 20) {
    const puts = [];
    for (let j = i; j < Math.min(sets, i + 20); j++) {
      const jobs = {};
      const jobRates = {};
      for (let k = j * PER_JOBSET; k < Math.min(N, (j + 1) * PER_JOBSET); k++) {
        const name = `h${k}.sim.example.com/health`;
        jobs[name] = {
          name,
          file: `f${Math.floor(k / 1000)}.yml`,
          line: 1 + (k % 1000) * 3,
          spec: { everyMs: 10_000 },
        };
        jobRates[name] = 0.1;
      }
      const rate = Object.keys(jobs).length * 0.1;
      const id = `js-${String(j).padStart(6, '0')}`;
      ids.push(id);
      puts.push(
        client
          .put(`/watcher/${CLUSTER}/jobsets/${id}`)
          .value(JSON.stringify({ v: 1, jobs, rates: jobRates, rate })),
      );
    }
    await Promise.all(puts);
  }
  return ids;
}

/** SIM_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`) go to host 0 only unless SIM_NODE_ARGS_ALL=1 */
function nodeArgs(index) {
  const extra = (process.env.SIM_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return index === 0 || process.env.SIM_NODE_ARGS_ALL === '1' ? extra : [];
}

/** Counts the puts and deletes under the cluster prefix by key kind for `ms` (who writes what in steady state). */
async function writesByKind(client, ms) {
  const counts = {};
  const w = await client.watch().prefix(`/watcher/${CLUSTER}/`).create();
  const kind = (key) => key.toString().split('/')[3] ?? '?';
  w.on('put', (kv) => {
    const k = `put ${kind(kv.key)}`;
    counts[k] = (counts[k] ?? 0) + 1;
  });
  w.on('delete', (kv) => {
    const k = `del ${kind(kv.key)}`;
    counts[k] = (counts[k] ?? 0) + 1;
  });
  await sleep(ms);
  await w.cancel();
  return counts;
}

function host(url, index, count) {
  const p = spawn(
    process.execPath,
    [
      ...nodeArgs(index),
      join(ROOT, 'bench/cluster/sim-worker.mjs'),
      url,
      CLUSTER,
      `p${index}w`,
      String(count),
      String(TTL),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const h = {
    p,
    ids: Array.from({ length: count }, (_, i) => `p${index}w${String(i).padStart(2, '0')}`),
    rss: 0,
    ready: null,
  };
  h.ready = new Promise((resolve, reject) => {
    p.once('exit', (c) => reject(new Error(`sim host ${index} exited ${c}`)));
    createInterface({ input: p.stdout }).on('line', (line) => {
      if (line === 'ready') resolve();
      else {
        try {
          h.rss = JSON.parse(line).rss;
        } catch {}
      }
    });
  });
  h.ready.catch(() => {});
  return h;
}

const etcd = await startEtcd();
const hosts = [];
const rows = [];
const raw = { workers: W, endpoints: N, leaseTtl: TTL };
try {
  const ids = await writeJobsets(etcd.client);
  raw.jobsets = ids.length;
  log(
    `${N} endpoints in ${ids.length} jobsets; starting ${W} workers in ${Math.ceil(W / PER_PROCESS)} processes`,
  );
  const allOwnedBy = async (live) => {
    const o = await owners(etcd.client, CLUSTER);
    return ids.every((id) => live.has(o.get(id)));
  };
  const c0 = await etcdCounters(etcd.url);
  const t0 = Date.now();
  for (let i = 0; i * PER_PROCESS < W; i++)
    hosts.push(host(etcd.url, i, Math.min(PER_PROCESS, W - i * PER_PROCESS)));
  const live = new Set(hosts.flatMap((h) => h.ids));
  const ownedAt = await waitFor(() => allOwnedBy(live), 240_000, 'cold start: every jobset owned', 250);
  await Promise.all(hosts.map((h) => h.ready));
  const c1 = await etcdCounters(etcd.url);
  const storm = rates(c0, c1);
  raw.coldStart = { ms: ownedAt - t0, storm };
  rows.push(
    row(
      `cold start of ${W} workers → all ${ids.length} jobsets (${N} endpoints) owned`,
      r1((ownedAt - t0) / 1000),
      's',
      '--lease-ttl',
      TTL,
      '',
      'includes spawning the host processes',
    ),
    row(
      'etcd requests/s during the cold start',
      Math.round(storm.requestsPerS),
      '/s',
      null,
      null,
      '',
      `${Math.round((storm.bytesInPerS + storm.bytesOutPerS) / 1024)} KiB/s`,
    ),
  );
  log(`cold start: all owned after ${ownedAt - t0} ms; settling 10 s`);
  await sleep(10_000);
  const s0 = await etcdCounters(etcd.url);
  const byKind = writesByKind(etcd.client, 15_000);
  await sleep(15_000);
  const steady = rates(s0, await etcdCounters(etcd.url));
  raw.steady = steady;
  raw.steadyWritesByKind = await byKind;
  log('steady writes by key kind over 15 s:', JSON.stringify(raw.steadyWritesByKind));
  rows.push(
    row(
      `etcd requests/s, steady, ${W} workers, ${N} endpoints`,
      r1(steady.requestsPerS),
      '/s',
      null,
      null,
      '',
      `${r1(steady.requestsPerS / W)} per worker, ${r1(steady.writesPerS)} writes/s`,
    ),
    row(
      `etcd bytes/s in+out, steady, ${W} workers`,
      Math.round(steady.bytesInPerS + steady.bytesOutPerS),
      'B/s',
      null,
      null,
    ),
  );
  rows.push(
    row(
      `RSS of a host process of ${PER_PROCESS} workers`,
      Math.max(...hosts.map((h) => h.rss)),
      'MB',
      null,
      null,
      '',
      `${r1(Math.max(...hosts.map((h) => h.rss)) / PER_PROCESS)} MB per worker`,
    ),
  );

  // lose 10 workers at once
  const victim = hosts[hosts.length - 1];
  const survivors = new Set(hosts.filter((h) => h !== victim).flatMap((h) => h.ids));
  victim.p.kill('SIGKILL');
  const tk = Date.now();
  const back = await waitFor(
    () => allOwnedBy(survivors),
    TTL * 1000 + 120_000,
    'convergence after the loss',
    250,
  );
  raw.lossMs = back - tk;
  rows.push(
    row(
      `kill -9 of ${victim.ids.length} workers at once → every jobset owned by a live worker`,
      r1((back - tk) / 1000),
      's',
      '--lease-ttl',
      TTL,
      '< TTL + 2 s',
    ),
  );
  log(`loss of ${victim.ids.length}: converged after ${back - tk} ms`);
} finally {
  // a profiled host 0 stops gracefully so that --cpu-prof writes its profile
  if (process.env.SIM_NODE_ARGS && hosts[0]) {
    const exited = new Promise((r) => hosts[0].p.once('exit', r));
    hosts[0].p.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
  }
  for (const h of hosts) h.p.kill('SIGKILL');
  etcd.stop();
}
process.stdout.write(`${JSON.stringify({ bench: 'cluster-sim', rows, raw })}\n`);
process.exit(0);
