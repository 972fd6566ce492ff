/**
 * Helpers of the engine benches: a local target (nginx when installed, else target.mjs), an
 * endpoints folder of N endpoints, the built `watcher run` process, /proc sampling, results-file
 * analysis. Everything listens on / talks to 127.0.0.1 only. Linux only (/proc).
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** WATCHER_BENCH_DIST=/path/to/dist runs another build (e.g. a copy of the previous one, to compare in one session). */
export const CLI = join(
  process.env.WATCHER_BENCH_DIST ? resolve(process.env.WATCHER_BENCH_DIST) : join(ROOT, 'dist'),
  'cli/main.js',
);
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

const children = new Set();
export function killAll() {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {}
  }
  children.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function parseArgs(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) {
      const key = a.slice(2, eq);
      out[key] = typeof defaults[key] === 'number' ? Number(a.slice(eq + 1)) : a.slice(eq + 1);
      continue;
    }
    const key = a.slice(2);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out[key] = true;
    else {
      out[key] = typeof defaults[key] === 'number' ? Number(next) : next;
      i++;
    }
  }
  return out;
}

export function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

export function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** A local HTTP target answering `{"status":"ok"}` (200, application/json) on every path. */
export async function startTarget(kind = 'auto') {
  const nginx = kind === 'node' ? null : which('nginx');
  if (kind === 'nginx' && !nginx) throw new Error('nginx not installed');
  const port = await freePort();
  if (nginx) {
    const dir = mkdtempSync(join(tmpdir(), 'watcher-engine-nginx-'));
    mkdirSync(join(dir, 'logs'));
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / { default_type application/json; return 200 '{"status":"ok"}'; }
  }
}
`,
    );
    const p = spawn(nginx, ['-p', dir, '-c', join(dir, 'nginx.conf')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.add(p);
    let err = '';
    p.stderr.on('data', (d) => {
      err += d;
    });
    await waitFor(
      () => httpOk(`http://127.0.0.1:${port}/`),
      5000,
      () => `nginx did not start: ${err}`,
    );
    return {
      kind: 'nginx',
      port,
      pids: () => nginxPids(dir),
      stop: async () => {
        p.kill('SIGTERM');
        await new Promise((r) => (p.exitCode !== null ? r() : p.once('exit', r)));
        children.delete(p);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const p = spawn(process.execPath, [join(ROOT, 'bench/engine/target.mjs'), String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(p);
  await waitFor(
    () => httpOk(`http://127.0.0.1:${port}/`),
    5000,
    () => 'node target did not start',
  );
  return {
    kind: 'node',
    port,
    pids: () => [p.pid],
    stop: async () => {
      p.kill('SIGTERM');
      await new Promise((r) => (p.exitCode !== null ? r() : p.once('exit', r)));
      children.delete(p);
    },
  };
}

function nginxPids(dir) {
  try {
    const master = Number(readFileSync(join(dir, 'nginx.pid'), 'utf8').trim());
    const kids = readFileSync(`/proc/${master}/task/${master}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    return [master, ...kids.map(Number)];
  } catch {
    return [];
  }
}

async function httpOk(url) {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await r.arrayBuffer();
    return r.ok;
  } catch {
    return false;
  }
}

export async function waitFor(cond, timeoutMs, message, stepMs = 50) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await sleep(stepMs);
  }
  throw new Error(typeof message === 'function' ? message() : message);
}

/**
 * An endpoints folder with `count` endpoints `127.0.0.1:PORT/e/NNNNN` sharing one `defaults`
 * block, split over `files` files (1,000 per file by default).
 */
export function writeEndpoints({ port, count, interval, keepalive, files = Math.ceil(count / 1000) }) {
  const dir = mkdtempSync(join(tmpdir(), 'watcher-engine-endpoints-'));
  const perFile = Math.ceil(count / files);
  for (let f = 0; f < files; f++) {
    const lines = [
      'defaults:',
      '  scheme: http',
      `  interval: ${interval}`,
      `  keepalive: ${keepalive ? 'true' : 'false'}`,
      '  timeout: 5s',
      '  success_test: { key: status, value: ok }',
    ];
    for (let i = f * perFile; i < Math.min(count, (f + 1) * perFile); i++) {
      lines.push(`127.0.0.1:${port}/e/${String(i).padStart(5, '0')}:`);
    }
    writeFileSync(join(dir, `bench-${String(f).padStart(3, '0')}.yml`), `${lines.join('\n')}\n`);
  }
  return dir;
}

/** Spawns the built `watcher run`; resolves once the process is spawned (not yet ready). */
export async function spawnWorker({
  endpointsDir,
  resultsFile,
  threads,
  logLevel = 'warn',
  nodeArgs = [],
  env = {},
}) {
  if (!existsSync(CLI)) throw new Error(`${CLI} missing: run \`npm run build\` first`);
  const port = await freePort();
  const args = [
    ...nodeArgs,
    CLI,
    'run',
    '--endpoints-dir',
    endpointsDir,
    '--listen',
    `127.0.0.1:${port}`,
    '--threads',
    String(threads),
    '--log-level',
    logLevel,
  ];
  if (resultsFile) args.push('--results-file', resultsFile);
  const spawnedAt = Date.now();
  const p = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  children.add(p);
  let log = '';
  const keep = (d) => {
    log += d;
    if (log.length > 200_000) log = log.slice(-100_000);
  };
  p.stdout.on('data', keep);
  p.stderr.on('data', keep);
  const base = `http://127.0.0.1:${port}`;
  return {
    pid: p.pid,
    base,
    spawnedAt,
    log: () => log,
    exited: () => p.exitCode !== null || p.signalCode !== null,
    async get(path, timeoutMs = 10_000) {
      const t0 = performance.now();
      const r = await fetch(base + path, { signal: AbortSignal.timeout(timeoutMs) });
      const text = await r.text();
      return { status: r.status, text, ms: performance.now() - t0 };
    },
    /** Polls /readyz every stepMs; resolves with the epoch ms of the first 200. */
    async waitReady(timeoutMs = 30_000, stepMs = 10) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (p.exitCode !== null) throw new Error(`worker exited ${p.exitCode}: ${log.slice(-2000)}`);
        try {
          const r = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(1000) });
          await r.arrayBuffer();
          if (r.status === 200) return Date.now();
        } catch {}
        await sleep(stepMs);
      }
      throw new Error(`worker not ready within ${timeoutMs} ms: ${log.slice(-2000)}`);
    },
    async stop(graceMs = 15_000) {
      if (p.exitCode !== null || p.signalCode !== null) return p.exitCode;
      p.kill('SIGTERM');
      const code = await Promise.race([
        new Promise((r) => p.once('exit', (c) => r(c))),
        sleep(graceMs).then(() => {
          p.kill('SIGKILL');
          return 'killed';
        }),
      ]);
      children.delete(p);
      return code;
    },
  };
}

/** CPU seconds (user+system, all threads) of a process. */
export function cpuSeconds(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** VmRSS / VmHWM of a process, MB (MiB). */
export function memMb(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return { rss: NaN, hwm: NaN };
  }
}

/** Machine-wide CPU counters (busy and total jiffies) from /proc/stat. */
export function machineCpu() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = line[3] + (line[4] ?? 0);
  const total = line.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);

/** Samples CPU/RSS of the worker (and target) every second until stopped. */
export function startSampler(workerPid, targetPids = () => []) {
  const samples = [];
  const tick = () => {
    const m = memMb(workerPid);
    samples.push({
      at: Date.now(),
      cpu: cpuSeconds(workerPid),
      targetCpu: targetPids().reduce((a, p) => a + cpuSeconds(p), 0),
      rss: m.rss,
      hwm: m.hwm,
      machine: machineCpu(),
      load: loadavg(),
    });
  };
  tick();
  const t = setInterval(tick, 1000);
  return {
    samples,
    stop() {
      clearInterval(t);
      tick();
      return samples;
    },
    /** usage between the samples nearest to [from, to] */
    window(from, to) {
      const a = samples.find((s) => s.at >= from) ?? samples[0];
      const b = [...samples].reverse().find((s) => s.at <= to) ?? samples.at(-1);
      const sec = (b.at - a.at) / 1000;
      const inWin = samples.filter((s) => s.at >= a.at && s.at <= b.at);
      return {
        seconds: sec,
        workerCpuPct: (100 * (b.cpu - a.cpu)) / sec,
        targetCpuPct: (100 * (b.targetCpu - a.targetCpu)) / sec,
        machineBusyPct: (100 * (b.machine.busy - a.machine.busy)) / (b.machine.total - a.machine.total),
        workerCpuSec: b.cpu - a.cpu,
        load1: { start: a.load[0], end: b.load[0], max: Math.max(...inWin.map((s) => s.load[0])) },
        rss: {
          min: Math.min(...inWin.map((s) => s.rss)),
          max: Math.max(...inWin.map((s) => s.rss)),
          end: b.rss,
        },
        hwm: b.hwm,
      };
    },
  };
}

/** Streams the results file; calls fn(result) per line. */
export async function eachResult(file, fn) {
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of rl) {
    if (line) fn(JSON.parse(line));
  }
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function lateStats(lags) {
  const s = Float64Array.from(lags).sort();
  return {
    n: s.length,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    p999: percentile(s, 99.9),
    max: s.length ? s[s.length - 1] : NaN,
    over20ms: s.filter((x) => x > 20).length,
  };
}

export function machineNotes() {
  return {
    nproc: cpus().length,
    cpu: cpus()[0]?.model,
    node: process.version,
    load: loadavg(),
    target: null,
  };
}

/** Runs noise.mjs for `seconds` in its own process; resolves with its timer-lateness stats (ms). */
export function noiseFloor(seconds) {
  const p = spawn(process.execPath, [join(ROOT, 'bench/engine/noise.mjs'), String(seconds)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(p);
  let out = '';
  p.stdout.on('data', (d) => {
    out += d;
  });
  return new Promise((res) =>
    p.once('exit', () => {
      children.delete(p);
      try {
        res(JSON.parse(out));
      } catch {
        res(null);
      }
    }),
  );
}

export const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
