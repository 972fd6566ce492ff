#!/usr/bin/env node
/**
 * CPU per check of the whole `watcher run` process (scheduler, pool, results, metrics, alert book,
 * fan-out; every thread, from /proc/<pid>/stat) at a fixed rate, a new connection per check, next
 * to prometheus-blackbox-exporter probing the same target at the same rate in the same run.
 * Build first (`npm run build`). Bounded: ~warmup + 2 × seconds + 10 s.
 *
 *   node bench/process/cpu.mjs [--endpoints 2000] [--interval 1s] [--warmup 8] [--seconds 15]
 *                              [--threads 2] [--keepalive] [--node-args "--cpu-prof --cpu-prof-dir=D"]
 *
 * Prints one JSON line: { watcher: {checksPerSec, cpuUsPerCheck, ...}, blackbox: {...}, ratio }.
 * The rate is endpoints / interval (2,000/s by default); blackbox is driven at the same rate by an
 * open-loop loop of /probe requests (its driver runs in this process, not counted).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { startBlackbox } from '../checks/lib.mjs';
import {
  cpuSeconds,
  loadavg,
  machineNotes,
  memMb,
  parseArgs,
  sleep,
  spawnWorker,
  startTarget,
  writeEndpoints,
} from '../engine/lib.mjs';

const opts = parseArgs(process.argv.slice(2), {
  endpoints: 2000,
  interval: '1s',
  warmup: 8,
  seconds: 15,
  threads: Math.min(2, availableParallelism()),
  keepalive: false,
  'node-args': '',
  'skip-blackbox': false,
});
const intervalS = Number(/^(\d+(?:\.\d+)?)s$/.exec(opts.interval)?.[1] ?? Number.NaN);
if (!(intervalS > 0)) throw new Error(`--interval must be like 1s, got ${opts.interval}`);
const rate = opts.endpoints / intervalS;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU seconds per thread name (/proc/<pid>/task/<tid>/stat), main thread as `main`. */
function threadCpu(pid) {
  const out = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = Number(tid) === pid ? 'main' : st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out[name] = (out[name] ?? 0) + (Number(f[11]) + Number(f[12])) / CLK_TCK;
    } catch {}
  }
  return out;
}

function checksTotal(text) {
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('watcher_checks_total{') || line.startsWith('watcher_checks_total ')) {
      n += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return n;
}

async function measureWatcher(target) {
  const endpointsDir = writeEndpoints({
    port: target.port,
    count: opts.endpoints,
    interval: opts.interval,
    keepalive: opts.keepalive === true,
  });
  const nodeArgs = opts['node-args'] ? String(opts['node-args']).split(/\s+/).filter(Boolean) : [];
  const w = await spawnWorker({ endpointsDir, threads: opts.threads, nodeArgs });
  try {
    await w.waitReady(60_000);
    await sleep(opts.warmup * 1000);
    const n0 = checksTotal((await w.get('/metrics')).text);
    const c0 = cpuSeconds(w.pid);
    const th0 = threadCpu(w.pid);
    const t0 = performance.now();
    const tc0 = target.pids().reduce((a, p) => a + cpuSeconds(p), 0);
    await sleep(opts.seconds * 1000);
    const c1 = cpuSeconds(w.pid);
    const th1 = threadCpu(w.pid);
    const elapsed = (performance.now() - t0) / 1000;
    const tc1 = target.pids().reduce((a, p) => a + cpuSeconds(p), 0);
    const n1 = checksTotal((await w.get('/metrics')).text);
    const n = n1 - n0;
    const perThread = {};
    for (const [name, sec] of Object.entries(th1)) {
      const us = Math.round(((sec - (th0[name] ?? 0)) * 1e6) / Math.max(1, n));
      if (us > 0) perThread[name] = us;
    }
    return {
      checks: n,
      seconds: Math.round(elapsed * 10) / 10,
      checksPerSec: Math.round(n / elapsed),
      cpuUsPerCheck: n > 0 ? Math.round(((c1 - c0) * 1e6) / n) : null,
      cpuCores: Math.round(((c1 - c0) / elapsed) * 100) / 100,
      targetCpuUsPerCheck: n > 0 ? Math.round(((tc1 - tc0) * 1e6) / n) : null,
      rssMb: Math.round(memMb(w.pid).rss),
      /** CPU µs per check by thread name (`main`, the check threads, V8/libuv helpers) */
      perThreadUsPerCheck: perThread,
    };
  } finally {
    await w.stop();
  }
}

/** blackbox at a fixed rate (open loop, at most 512 probes in flight). */
async function measureBlackboxAt(target) {
  const bb = await startBlackbox();
  if (!bb) return null;
  const { Pool } = await import('undici');
  const client = new Pool(bb.url, { connections: 128 });
  const path = `/probe?module=http_body&target=${encodeURIComponent(`http://127.0.0.1:${target.port}/e/bb`)}`;
  let ok = 0;
  let bad = 0;
  let inFlight = 0;
  let stop = false;
  const probe = async () => {
    inFlight++;
    try {
      const res = await client.request({ method: 'GET', path });
      const text = await res.body.text();
      if (/\nprobe_success 1/.test(text)) ok++;
      else bad++;
    } catch {
      bad++;
    } finally {
      inFlight--;
    }
  };
  const driver = (async () => {
    const start = performance.now();
    let sent = 0;
    while (!stop) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      while (sent < due && inFlight < 512) {
        sent++;
        void probe();
      }
      await sleep(5);
    }
  })();
  try {
    await sleep(Math.min(opts.warmup, 3) * 1000);
    const n0 = ok + bad;
    const bad0 = bad;
    const c0 = cpuSeconds(bb.pid);
    const t0 = performance.now();
    await sleep(opts.seconds * 1000);
    const c1 = cpuSeconds(bb.pid);
    const elapsed = (performance.now() - t0) / 1000;
    const n = ok + bad - n0;
    return {
      checks: n,
      failed: bad - bad0,
      seconds: Math.round(elapsed * 10) / 10,
      checksPerSec: Math.round(n / elapsed),
      cpuUsPerCheck: n > 0 ? Math.round(((c1 - c0) * 1e6) / n) : null,
      cpuCores: Math.round(((c1 - c0) / elapsed) * 100) / 100,
    };
  } finally {
    stop = true;
    await driver;
    while (inFlight > 0) await sleep(10);
    await client.close();
    bb.stop();
  }
}

const target = await startTarget('auto');
const load = { start: loadavg() };
try {
  const watcher = await measureWatcher(target);
  const blackbox = opts['skip-blackbox'] ? null : await measureBlackboxAt(target);
  load.end = loadavg();
  const ratio =
    blackbox?.cpuUsPerCheck && watcher.cpuUsPerCheck
      ? Math.round((watcher.cpuUsPerCheck / blackbox.cpuUsPerCheck) * 100) / 100
      : null;
  process.stdout.write(
    `${JSON.stringify({
      bench: 'process-cpu',
      mode: opts.keepalive ? 'keepalive' : 'fresh',
      rate,
      endpoints: opts.endpoints,
      threads: opts.threads,
      target: target.kind,
      watcher,
      blackbox,
      ratio,
      load,
      machine: machineNotes(),
    })}\n`,
  );
} finally {
  await target.stop();
}
