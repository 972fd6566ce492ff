/**
 * Balance bench: 1,000 jobsets, workers joining one at a time up to 5; per join, the time until
 * the share is even and how many jobsets moved (goal: ≤ the newcomer's fair share + 10%).
 *
 * The workers are in-process EtcdCoordinators (the real code of src/cluster/etcd/, built in dist/)
 * against a real 1-member etcd started here: 5 worker processes running 1,000 jobsets of checks
 * would measure the 2 shared cores, not the balancing. The jobsets are written straight into etcd
 * (1 job each, interval 1/2/5/10 s → 1, 0.5, 0.2, 0.1 checks/s, so shares are by checks/s), and
 * no worker has endpoint files, so the admin only rebalances. Nothing runs checks.
 *
 *   npm run build && node bench/balance/run.mjs [--jobsets 1000] [--workers 5] [--json]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dist = (p) => import(join(ROOT, 'dist', p));
const { createEtcdCoordinator } = await dist('cluster/etcd/coordinator.js');
const { Keys } = await dist('cluster/etcd/keys.js');
const { createMetrics } = await dist('metrics.js');
const { silentLogger } = await dist('model/logger.js');

const { values: args } = parseArgs({
  options: {
    jobsets: { type: 'string', default: '1000' },
    workers: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
    etcd: { type: 'string', default: process.env.WATCHER_TEST_ETCD ?? '/usr/bin/etcd' },
  },
});
const N = Number(args.jobsets);
const W = Number(args.workers);
const INTERVALS = [1000, 2000, 5000, 10_000];

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

async function startEtcd() {
  const dir = mkdtempSync(join(tmpdir(), 'watcher-bench-etcd-'));
  let [cp, pp] = [await freePort(), await freePort()];
  while ([cp, pp].some((p) => p === 2379 || p === 2380)) [cp, pp] = [await freePort(), await freePort()];
  const client = `http://127.0.0.1:${cp}`;
  const peer = `http://127.0.0.1:${pp}`;
  const proc = spawn(
    args.etcd,
    [
      '--name',
      'b1',
      '--data-dir',
      join(dir, 'data'),
      '--listen-client-urls',
      client,
      '--advertise-client-urls',
      client,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `b1=${peer}`,
      '--initial-cluster-state',
      'new',
      '--max-request-bytes',
      '3145728',
    ],
    { stdio: 'ignore' },
  );
  const stop = () => {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', stop);
  const c = new Etcd3({ hosts: [client] });
  for (let i = 0; i < 100; i++) {
    try {
      await c.get('probe').string();
      return { url: client, client: c, stop };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('etcd did not start');
}

const fakeNormalize = (raw) => ({
  name: raw.name,
  file: raw.file,
  line: raw.line,
  hash: raw.name,
  schedule: { kind: 'interval', everyMs: raw.spec.everyMs },
});

async function writeJobsets(client, keys) {
  let total = 0;
  for (let i = 0; i < N; i += 100) {
    const txn = client.if('probe', 'Version', '==', 0);
    const puts = [];
    for (let j = i; j < Math.min(N, i + 100); j++) {
      const everyMs = INTERVALS[j % INTERVALS.length];
      const name = `job${String(j).padStart(5, '0')}.bench/health`;
      const rate = 1000 / everyMs;
      total += rate;
      const value = {
        v: 1,
        jobs: { [name]: { name, file: 'bench.yml', line: 1, spec: { everyMs } } },
        rates: { [name]: rate },
        rate,
      };
      puts.push(client.put(keys.jobset(`js-${String(j).padStart(5, '0')}`)).value(JSON.stringify(value)));
    }
    await txn.then(...puts).commit();
  }
  return total;
}

function makeWorker(url, id, counters) {
  const c = createEtcdCoordinator({
    endpoints: [url],
    cluster: 'bench',
    workerId: id,
    address: `127.0.0.1:0`,
    version: 'bench',
    leaseTtlSec: 5,
    capacity: null,
    onPartition: 'continue',
    normalize: fakeNormalize,
    desired: () => null,
    metrics: createMetrics({ defaultMetrics: false }),
    logger: silentLogger,
  });
  c.on('ownership', (ch) => {
    counters.acquired += ch.acquired.length;
    if (ch.reason === 'handed over') counters.moved += ch.acquired.length;
  });
  return c;
}

const rateOf = (jsid) => 1000 / INTERVALS[Number(jsid.slice(3)) % INTERVALS.length];

function shares(workers) {
  return workers.map((w) => {
    const ids = w.ownedJobsets();
    return { jobsets: ids.length, rate: ids.reduce((s, id) => s + rateOf(id), 0) };
  });
}

async function waitUntil(fn, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timeout: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const etcd = await startEtcd();
const keys = new Keys('bench');
const totalRate = await writeJobsets(etcd.client, keys);
const counters = { acquired: 0, moved: 0 };
const workers = [];
const rows = [];
try {
  for (let k = 1; k <= W; k++) {
    const before = { ...counters };
    const t0 = Date.now();
    const w = makeWorker(etcd.url, `w${k}`, counters);
    workers.push(w);
    await w.start();
    const fair = totalRate / k;
    let evenAt = null;
    let lastChange = Date.now();
    let lastSig = '';
    // settled: every share within 10% of the fair share, and no ownership change for 3 s
    await waitUntil(
      () => {
        const s = shares(workers);
        const owned = s.reduce((a, x) => a + x.jobsets, 0);
        const sig = s.map((x) => x.jobsets).join(',');
        if (sig !== lastSig) {
          lastSig = sig;
          lastChange = Date.now();
        }
        const even = owned === N && s.every((x) => Math.abs(x.rate - fair) <= 0.1 * fair);
        if (even && evenAt === null) evenAt = Date.now();
        return even && Date.now() - lastChange >= 3000;
      },
      180_000,
      `even share with ${k} workers`,
    );
    const s = shares(workers);
    const newcomer = s[k - 1];
    const moved = counters.moved - before.moved;
    rows.push({
      workers: k,
      evenMs: evenAt - t0,
      moved: k === 1 ? 0 : moved,
      claimed: counters.acquired - before.acquired - moved,
      fairJobsets: Math.round(N / k),
      goal: k === 1 ? 0 : Math.round((N / k) * 1.1),
      newcomerJobsets: newcomer.jobsets,
      newcomerRate: Math.round(newcomer.rate * 10) / 10,
      fairRate: Math.round(fair * 10) / 10,
      spreadPct:
        Math.round(((Math.max(...s.map((x) => x.rate)) - Math.min(...s.map((x) => x.rate))) / fair) * 1000) /
        10,
    });
  }
} finally {
  await Promise.all(workers.map((w) => w.stop()));
  etcd.client.close();
  etcd.stop();
}

if (args.json) {
  console.log(JSON.stringify({ jobsets: N, totalRate, rows }, null, 2));
} else {
  console.log(`${N} jobsets, ${Math.round(totalRate)} checks/s in total`);
  console.log(
    '| workers after join | time to even share | jobsets moved | goal (fair share + 10%) | claimed (free) | newcomer jobsets | newcomer checks/s (fair) | spread max−min |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(
      `| ${r.workers} | ${(r.evenMs / 1000).toFixed(1)} s | ${r.moved} | ${r.workers === 1 ? '–' : `≤ ${r.goal}`} | ${r.claimed} | ${r.newcomerJobsets} | ${r.newcomerRate} (${r.fairRate}) | ${r.spreadPct}% |`,
    );
  }
}
process.exit(0);
