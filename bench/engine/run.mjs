#!/usr/bin/env node
/**
 * Engine-level benches of `watcher run` (standalone), against a local target on 127.0.0.1.
 * Build first: `npm run build`. Each scenario runs at most ~60 s.
 *
 *   node bench/engine/run.mjs lateness [--keepalive|--fresh] [--endpoints 10000] [--interval 5s]
 *                                      [--warmup 10] [--seconds 35] [--threads 2]
 *       p50/p99/max lateness (started_at - scheduled_at, from the results file) of every check
 *       scheduled inside the measuring window, worker CPU%, RSS.
 *       --scrape S: also GET /metrics every S seconds during the window (as Prometheus would).
 *   node bench/engine/run.mjs rss [--endpoints 10000] [--interval 10s] [--seconds 40]
 *       VmRSS over time and VmHWM (peak) of the worker with N live endpoints (+ an idle baseline).
 *   node bench/engine/run.mjs first-pass [--endpoints 10000] [--interval 10s]
 *       time from start until every endpoint has been checked once, against its interval.
 *   node bench/engine/run.mjs all      the four runs above in sequence (~4 min)
 *
 * Common options: --threads N (default: cores), --target auto|nginx|node, --json FILE (append
 * one JSON line per scenario), --node-args="--cpu-prof --cpu-prof-dir=/tmp/prof" (profile the worker).
 */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  eachResult,
  fmt,
  lateStats,
  loadavg,
  machineNotes,
  memMb,
  noiseFloor,
  parseArgs,
  sleep,
  spawnWorker,
  startSampler,
  startTarget,
} from './lib.mjs';

const [scenario = 'all', ...rest] = process.argv.slice(2);
const opts = parseArgs(rest, {
  endpoints: 10000,
  interval: '',
  warmup: 10,
  seconds: 0,
  threads: availableParallelism(),
  target: 'auto',
  json: '',
  'node-args': '',
  scrape: 0,
});

function seconds(d) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(d);
  if (!m) throw new Error(`bad duration ${d}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2]];
}

function report(name, data) {
  const line = { scenario: name, at: new Date().toISOString(), machine: machineNotes(), ...data };
  if (opts.json) appendFileSync(opts.json, `${JSON.stringify(line)}\n`);
  return line;
}

const nodeArgs = opts['node-args'] ? String(opts['node-args']).split(/\s+/).filter(Boolean) : [];

async function withWorker(target, { endpoints, interval, keepalive, results = true }, body) {
  const { writeEndpoints } = await import('./lib.mjs');
  const endpointsDir = writeEndpoints({ port: target.port, count: endpoints, interval, keepalive });
  const work = mkdtempSync(join(tmpdir(), 'watcher-engine-run-'));
  const resultsFile = results ? join(work, 'results.jsonl') : null;
  const worker = await spawnWorker({ endpointsDir, resultsFile, threads: opts.threads, nodeArgs });
  try {
    return await body(worker, resultsFile);
  } finally {
    const code = await worker.stop();
    if (code !== 0) console.error(`worker exit code ${code}; last log:\n${worker.log().slice(-1500)}`);
    rmSync(endpointsDir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

/** Histogram quantile from Prometheus buckets (upper bound of the bucket holding the quantile). */
function promQuantile(metricsText, name, q) {
  const buckets = [];
  for (const line of metricsText.split('\n')) {
    const m = new RegExp(`^${name}_bucket\\{.*le="([^"]+)".*\\} (\\S+)`).exec(line);
    if (m) buckets.push([m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]), Number(m[2])]);
  }
  const total = buckets.at(-1)?.[1] ?? 0;
  const hit = buckets.find(([, c]) => c >= q * total);
  return { total, le: hit?.[0] };
}

async function lateness(target, keepalive) {
  const endpoints = opts.endpoints;
  const interval = opts.interval || '5s';
  const warmup = opts.warmup;
  const measure = opts.seconds || 35;
  const label = `lateness-${keepalive ? 'keepalive' : 'fresh'}`;
  console.log(
    `\n## ${label}: ${endpoints} endpoints every ${interval} (${fmt(endpoints / seconds(interval), 0)} checks/s), threads ${opts.threads}, target ${target.kind}`,
  );
  return withWorker(target, { endpoints, interval, keepalive }, async (worker, resultsFile) => {
    const ready = await worker.waitReady();
    console.log(
      `ready ${ready - worker.spawnedAt} ms after spawn; warm-up ${warmup} s, measuring ${measure} s`,
    );
    const sampler = startSampler(worker.pid, target.pids);
    const from = ready + warmup * 1000;
    const to = from + measure * 1000;
    await sleep(from - Date.now());
    const noise = noiseFloor(measure);
    const scrapes = [];
    if (opts.scrape > 0) {
      // like a Prometheus server scraping /metrics every `scrape` seconds during the window
      for (let t = Date.now() + opts.scrape * 1000; t < to; t += opts.scrape * 1000) {
        await sleep(t - Date.now());
        scrapes.push(Math.round((await worker.get('/metrics')).ms));
      }
      console.log(`scraped /metrics every ${opts.scrape} s during the window: ${scrapes.join(', ')} ms`);
    }
    await sleep(to - Date.now() + 1500); // + let the last checks of the window finish
    const floor = await noise;
    const usage = sampler.window(from, to);
    sampler.stop();
    const metrics = await worker.get('/metrics');
    const lagProm = promQuantile(metrics.text, 'watcher_schedule_lag_seconds', 0.99);
    const status = await worker.get('/api/v1/status', 30_000);
    const workerLagP99 = JSON.parse(status.text).worker?.lag_p99_ms;
    await worker.stop();

    const lags = [];
    let ok = 0;
    let failed = 0;
    const reasons = new Map();
    await eachResult(resultsFile, (r) => {
      if (r.scheduled_at < from || r.scheduled_at >= to) return;
      lags.push(r.started_at - r.scheduled_at);
      if (r.ok) ok++;
      else {
        failed++;
        reasons.set(r.error, (reasons.get(r.error) ?? 0) + 1);
      }
    });
    const expected = (endpoints * measure) / seconds(interval);
    const st = lateStats(lags);
    console.log(
      `checks in window: ${st.n} of ${fmt(expected, 0)} expected (${fmt((100 * st.n) / expected)}%), ok ${ok}, failed ${failed}${failed ? ` ${JSON.stringify(Object.fromEntries(reasons))}` : ''}`,
    );
    console.log(
      `lateness ms: p50 ${st.p50}  p90 ${st.p90}  p99 ${st.p99}  p99.9 ${st.p999}  max ${st.max}  (>20 ms: ${st.over20ms} = ${fmt((100 * st.over20ms) / st.n, 2)}%)`,
    );
    console.log(
      `noise floor (a bare Node timer every 5 ms, same window): p50 ${floor?.p50} p99 ${floor?.p99} max ${floor?.max} ms`,
    );
    console.log(
      `worker CPU ${fmt(usage.workerCpuPct)}% of one core (${fmt((1e6 * usage.workerCpuSec) / st.n)} µs/check), target CPU ${fmt(usage.targetCpuPct)}%, machine busy ${fmt(usage.machineBusyPct)}% of ${machineNotes().nproc} cores, load1 ${usage.load1.start}→${usage.load1.end} (max ${usage.load1.max})`,
    );
    console.log(
      `worker RSS ${fmt(usage.rss.min)}–${fmt(usage.rss.max)} MB, peak (VmHWM) ${fmt(usage.hwm)} MB`,
    );
    console.log(
      `worker's own view: watcher_schedule_lag_seconds p99 bucket <= ${lagProm.le} s (${lagProm.total} samples), status lag_p99_ms ${workerLagP99}; /metrics ${fmt(metrics.text.length / 1024, 0)} KiB in ${fmt(metrics.ms, 0)} ms, /api/v1/status ${fmt(status.text.length / 1024, 0)} KiB in ${fmt(status.ms, 0)} ms`,
    );
    return report(label, {
      endpoints,
      interval,
      keepalive,
      threads: opts.threads,
      target: target.kind,
      window_s: measure,
      expected,
      ok,
      failed,
      reasons: Object.fromEntries(reasons),
      lateness_ms: st,
      noise_floor_ms: floor,
      scrape_ms: scrapes,
      usage,
      worker_view: { prom_p99_le_s: lagProm.le, status_lag_p99_ms: workerLagP99 },
      api_ms: { metrics: metrics.ms, status: status.ms, status_kib: status.text.length / 1024 },
    });
  });
}

async function rss(target) {
  const endpoints = opts.endpoints;
  const interval = opts.interval || '10s';
  const measure = opts.seconds || 40;
  console.log(
    `\n## rss: idle baseline, then ${endpoints} endpoints every ${interval} (keep-alive), ${measure} s, threads ${opts.threads}`,
  );
  const baseline = await withWorker(
    target,
    { endpoints: 0, interval, keepalive: true, results: false },
    async (w) => {
      await w.waitReady();
      await sleep(3000);
      return memMb(w.pid);
    },
  );
  console.log(`idle worker (0 endpoints): RSS ${fmt(baseline.rss)} MB, peak ${fmt(baseline.hwm)} MB`);
  return withWorker(target, { endpoints, interval, keepalive: true }, async (worker) => {
    const ready = await worker.waitReady();
    const sampler = startSampler(worker.pid, target.pids);
    const curve = [];
    for (let t = 5; t <= measure; t += 5) {
      await sleep(ready + t * 1000 - Date.now());
      curve.push({ t, ...memMb(worker.pid) });
    }
    const usage = sampler.window(ready + 10_000, Date.now());
    sampler.stop();
    console.log(`RSS after ready (MB): ${curve.map((c) => `${c.t}s ${fmt(c.rss)}`).join(', ')}`);
    const last = curve.at(-1);
    console.log(
      `steady RSS ${fmt(last.rss)} MB, peak (VmHWM) ${fmt(last.hwm)} MB; per endpoint above idle ${fmt((1024 * (last.rss - baseline.rss)) / endpoints, 1)} KiB; worker CPU ${fmt(usage.workerCpuPct)}%, load1 max ${usage.load1.max}`,
    );
    return report('rss', {
      endpoints,
      interval,
      threads: opts.threads,
      baseline,
      curve,
      steady_rss_mb: last.rss,
      peak_rss_mb: last.hwm,
      usage,
    });
  });
}

async function firstPass(target) {
  const endpoints = opts.endpoints;
  const interval = opts.interval || '10s';
  const iv = seconds(interval) * 1000;
  console.log(
    `\n## first-pass: ${endpoints} endpoints every ${interval} (keep-alive), threads ${opts.threads}`,
  );
  return withWorker(target, { endpoints, interval, keepalive: true }, async (worker, resultsFile) => {
    const ready = await worker.waitReady(30_000, 5);
    const sampler = startSampler(worker.pid, target.pids);
    await sleep(ready + iv + 2000 - Date.now());
    const usage = sampler.window(ready, ready + iv);
    sampler.stop();
    await worker.stop();
    const first = new Map();
    await eachResult(resultsFile, (r) => {
      const prev = first.get(r.endpoint);
      if (!prev || r.started_at < prev.started_at) first.set(r.endpoint, r);
    });
    const firsts = [...first.values()];
    const lastStart = Math.max(...firsts.map((r) => r.started_at));
    const firstSched = Math.min(...firsts.map((r) => r.scheduled_at));
    const lastSched = Math.max(...firsts.map((r) => r.scheduled_at));
    const withinReady = firsts.filter((r) => r.started_at <= ready + iv).length;
    const withinSpawn = firsts.filter((r) => r.started_at <= worker.spawnedAt + iv).length;
    const st = lateStats(firsts.map((r) => r.started_at - r.scheduled_at));
    console.log(`spawn → ready (config loaded, /readyz 200): ${ready - worker.spawnedAt} ms`);
    console.log(
      `checked at least once: ${first.size} of ${endpoints}; first slots span ${firstSched - ready}..${lastSched - ready} ms after ready`,
    );
    console.log(
      `all checked ${lastStart - ready} ms after ready = ${fmt((lastStart - ready) / iv, 3)} × interval; ${lastStart - worker.spawnedAt} ms after spawn = ${fmt((lastStart - worker.spawnedAt) / iv, 3)} × interval`,
    );
    console.log(
      `within one interval of ready: ${withinReady}/${endpoints}; of spawn: ${withinSpawn}/${endpoints}`,
    );
    console.log(
      `first-check lateness ms: p50 ${st.p50} p99 ${st.p99} max ${st.max}; worker CPU ${fmt(usage.workerCpuPct)}%, load1 max ${usage.load1.max}`,
    );
    return report('first-pass', {
      endpoints,
      interval,
      threads: opts.threads,
      spawn_to_ready_ms: ready - worker.spawnedAt,
      checked: first.size,
      all_checked_after_ready_ms: lastStart - ready,
      all_checked_after_spawn_ms: lastStart - worker.spawnedAt,
      within_interval_of_ready: withinReady,
      within_interval_of_spawn: withinSpawn,
      first_lateness_ms: st,
      usage,
    });
  });
}

const target = await startTarget(opts.target);
console.log(`machine: ${JSON.stringify(machineNotes())}; target ${target.kind} on 127.0.0.1:${target.port}`);
try {
  const keepalive = !opts.fresh;
  if (scenario === 'lateness') await lateness(target, keepalive);
  else if (scenario === 'rss') await rss(target);
  else if (scenario === 'first-pass') await firstPass(target);
  else if (scenario === 'all') {
    await lateness(target, true);
    await lateness(target, false);
    await rss(target);
    await firstPass(target);
  } else throw new Error(`unknown scenario ${scenario}`);
} finally {
  await target.stop();
  console.log(`load average at end: ${loadavg().join(' ')}`);
}
