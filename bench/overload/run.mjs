#!/usr/bin/env node
/**
 * Overload bench of `watcher run` (standalone, one check thread), against a local target
 * (nginx when installed, else bench/engine/target.mjs). Build first: `npm run build`.
 *
 *   node bench/overload/run.mjs [--factors 1,1.5,3] [--minutes 5] [--slots 20] [--cost 40] [--json FILE]
 *
 * The worker's capacity is fixed by the test hooks (WATCHER_TEST_CHECK_SLOTS × 1000 /
 * WATCHER_TEST_CHECK_COST_MS checks/s on its one thread, at no CPU cost), so "1.5×" means the same
 * on any machine and the bench measures what the issue asks — memory, lag, coverage and recovery
 * under overload — not CPU per check (that is bench/engine). For each factor: N = capacity ×
 * factor endpoints every second for `--minutes`; RSS every 5 s (first 30 s excluded as warm-up),
 * lag p50/p99 of the checks of the last minute, coverage and skipped slots from /metrics; then
 * relief (endpoints cut to 0.5 × capacity by removing files) and the time until the lag p99 of
 * the checks started in the last second is below 1 s.
 *
 * The reference, in the same run: the 1× run (RSS ratio of each factor to it) and the ideal
 * coverage min(1, 1/factor) (coverage ratio to it).
 */
import { appendFileSync, closeSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadavg,
  memMb,
  parseArgs,
  sleep,
  spawnWorker,
  startTarget,
  writeEndpoints,
} from '../engine/lib.mjs';

const opts = parseArgs(process.argv.slice(2), {
  factors: '1,1.5,3',
  minutes: 5,
  slots: 20,
  cost: 40,
  json: '',
});
const capacity = (Number(opts.slots) * 1000) / Number(opts.cost);
const factors = String(opts.factors).split(',').map(Number);

/** Incremental reader of a results file: calls fn(result) for each new complete line. */
function tailer(file) {
  let offset = 0;
  let rest = '';
  const buf = Buffer.alloc(1 << 20);
  return (fn) => {
    let fd;
    try {
      if (statSync(file).size <= offset) return;
      fd = openSync(file, 'r');
    } catch {
      return;
    }
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, offset);
        if (n <= 0) break;
        offset += n;
        const lines = (rest + buf.toString('utf8', 0, n)).split('\n');
        rest = lines.pop() ?? '';
        for (const l of lines) if (l.startsWith('{')) fn(JSON.parse(l));
      }
    } finally {
      closeSync(fd);
    }
  };
}

const pct = (sorted, q) =>
  sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];

async function metrics(w) {
  const body = (await w.get('/metrics')).text;
  const one = (re) => Number(re.exec(body)?.[1] ?? Number.NaN);
  return {
    coverage: one(/^watcher_schedule_coverage_ratio ([\d.]+)$/m),
    overlap: one(/^watcher_checks_skipped_total\{reason="overlap"\} (\d+)$/m),
    pending: one(/^watcher_checks_pending (\d+)$/m),
    overloaded: one(/^watcher_overloaded (\d)$/m),
  };
}

async function runFactor(target, factor) {
  const endpoints = Math.round(capacity * factor);
  const files = 10;
  const dir = writeEndpoints({
    port: target.port,
    count: endpoints,
    interval: '1s',
    keepalive: false,
    files,
  });
  const resultsFile = join(tmpdir(), `watcher-overload-${process.pid}-${factor}.jsonl`);
  const w = await spawnWorker({
    endpointsDir: dir,
    resultsFile,
    threads: 1,
    env: {
      WATCHER_TEST_HOOKS: '1',
      WATCHER_TEST_CHECK_SLOTS: String(opts.slots),
      WATCHER_TEST_CHECK_COST_MS: String(opts.cost),
    },
  });
  await w.waitReady(30_000);
  const read = tailer(resultsFile);
  const t0 = Date.now();
  const end = t0 + Number(opts.minutes) * 60_000;
  const rss = [];
  const lastMinute = [];
  let results = 0;
  while (Date.now() < end) {
    await sleep(5000);
    read((r) => {
      results++;
      if (r.started_at > end - 60_000) lastMinute.push(r.started_at - r.scheduled_at);
    });
    if (Date.now() - t0 >= 30_000) rss.push(memMb(w.pid).rss);
  }
  read((r) => {
    results++;
    if (r.started_at > end - 60_000) lastMinute.push(r.started_at - r.scheduled_at);
  });
  const m = await metrics(w);
  lastMinute.sort((a, b) => a - b);
  // relief: keep 0.5 × capacity worth of endpoints (whole files)
  const keepFiles = Math.max(1, Math.floor((files * 0.5) / factor));
  for (let f = keepFiles; f < files; f++)
    rmSync(join(dir, `bench-${String(f).padStart(3, '0')}.yml`), { force: true });
  const relief = Date.now();
  let recoveredMs = null;
  const window = [];
  while (Date.now() - relief < 60_000) {
    await sleep(250);
    read((r) => window.push({ s: r.started_at, lag: r.started_at - r.scheduled_at }));
    const now = Date.now();
    while (window.length > 0 && window[0].s < now - 1000) window.shift();
    if (now - relief < 1500 || window.length === 0) continue;
    const lags = window.map((x) => x.lag).sort((a, b) => a - b);
    if (pct(lags, 0.99) < 1000) {
      recoveredMs = now - relief;
      break;
    }
  }
  await w.stop();
  rmSync(resultsFile, { force: true });
  rmSync(dir, { recursive: true, force: true });
  const sortedRss = [...rss].sort((a, b) => a - b);
  return {
    factor,
    endpoints,
    capacity,
    minutes: Number(opts.minutes),
    results,
    rssMb: {
      first: rss[0],
      last: rss.at(-1),
      min: sortedRss[0],
      max: sortedRss.at(-1),
      median: pct(sortedRss, 0.5),
    },
    rssSpread: sortedRss.length ? (sortedRss.at(-1) - sortedRss[0]) / pct(sortedRss, 0.5) : null,
    lagLastMinuteMs: { p50: pct(lastMinute, 0.5), p99: pct(lastMinute, 0.99), max: lastMinute.at(-1) },
    coverage: m.coverage,
    idealCoverage: Math.min(1, 1 / factor),
    skippedOverlap: m.overlap,
    pendingAtEnd: m.pending,
    overloaded: m.overloaded,
    recoverAfterReliefMs: recoveredMs,
    loadavg: loadavg(),
  };
}

const target = await startTarget('auto');
try {
  const out = [];
  for (const f of factors) {
    const r = await runFactor(target, f);
    out.push(r);
    const base = out.find((x) => x.factor === 1);
    const line = {
      ...r,
      rssRatioTo1x: base ? Math.round((r.rssMb.median / base.rssMb.median) * 100) / 100 : null,
      coverageRatioToIdeal: Math.round((r.coverage / r.idealCoverage) * 1000) / 1000,
      target: target.kind,
      at: new Date().toISOString(),
    };
    console.log(JSON.stringify(line));
    if (opts.json) appendFileSync(opts.json, `${JSON.stringify(line)}\n`);
  }
} finally {
  await target.stop();
}
