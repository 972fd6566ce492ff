#!/usr/bin/env node
/**
 * Drives watcher's check engine at full speed against one URL and reports checks/s and CPU µs
 * per check for this whole process (main thread + check threads: process.cpuUsage() covers all
 * threads). Runs the compiled code: `npm run build` first.
 *
 *   node bench/checks/watcher-load.mjs --url http://127.0.0.1:8080/ok [--mode fresh|keepalive]
 *     [--threads 2] [--concurrency 64] [--batch 128] [--seconds 4] [--warmup 1] [--inline]
 *
 * --inline runs runCheck() on the main thread (no pool): what one Node thread does.
 * --probe tcp|tls|dns checks tcp://host:port, tls://host:port (--ca-file, --server-name) or
 * dns://name (--dns-server IP:port, an A query that must contain 203.0.113.7) instead of HTTP.
 * WATCHER_BENCH_DIST=DIR loads the pool from another build (compare two builds in one session).
 * Prints one JSON line.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

// WATCHER_BENCH_DIST=/path/to/dist runs another build (e.g. a copy of the previous one).
const dist = process.env.WATCHER_BENCH_DIST
  ? pathToFileURL(`${resolve(process.env.WATCHER_BENCH_DIST)}/`)
  : new URL('../../dist/', import.meta.url);
const { CheckPool } = await import(new URL('checks/pool.js', dist).href);
const { runCheck } = await import(new URL('checks/run-check.js', dist).href);

const { values: a } = parseArgs({
  options: {
    url: { type: 'string' },
    mode: { type: 'string', default: 'keepalive' },
    threads: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '64' },
    batch: { type: 'string', default: '128' },
    seconds: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '1' },
    inline: { type: 'boolean', default: false },
    probe: { type: 'string', default: 'http' },
    'ca-file': { type: 'string' },
    'server-name': { type: 'string' },
    'dns-server': { type: 'string' },
  },
});
if (!a.url) {
  console.error('--url is required');
  process.exit(2);
}
const threads = Number(a.threads);
const concurrency = Number(a.concurrency);
const batchSize = Number(a.batch);
const keepalive = a.mode === 'keepalive';

/** The check the reference figures describe: GET, JSON parse, one JSON test, one value. */
const spec = {
  id: 'bench',
  url: a.url,
  method: 'GET',
  headers: {},
  body: null,
  timeoutMs: 5000,
  connectTimeoutMs: 5000,
  followRedirects: false,
  maxRedirects: 0,
  tlsVerify: true,
  keepalive,
  maxBodyBytes: 1024 * 1024,
  successTests: [{ kind: 'json', key: 'status', op: '==', value: 'ok' }],
  responseJsonValues: ['status'],
};
const tlsOptions = { serverName: a['server-name'] ?? null, caFile: a['ca-file'] ?? null };
if (a.probe === 'tcp') {
  Object.assign(spec, { successTests: [], responseJsonValues: [] });
  spec.probe = { kind: 'tcp', send: null, expect: null, tls: null };
} else if (a.probe === 'tls') {
  Object.assign(spec, { successTests: [], responseJsonValues: [] });
  spec.probe = { kind: 'tls', tls: tlsOptions };
} else if (a.probe === 'dns') {
  Object.assign(spec, {
    successTests: [{ kind: 'answers', op: 'contains', value: '203.0.113.7' }],
    responseJsonValues: [],
  });
  spec.probe = { kind: 'dns', record: 'A', server: a['dns-server'] ?? null };
}

let done = 0;
let failed = 0;
const errors = new Map();
const count = (r) => {
  done++;
  if (!r.ok) {
    failed++;
    errors.set(r.error, (errors.get(r.error) ?? 0) + 1);
  }
};
let stop = false;
const loops = [];
let pool = null;

if (a.inline) {
  for (let i = 0; i < concurrency; i++) {
    loops.push(
      (async () => {
        while (!stop) count(await runCheck(spec, Date.now(), 'bench'));
      })(),
    );
  }
} else {
  pool = new CheckPool({
    threads,
    worker: 'bench',
    maxConcurrentPerThread: concurrency,
    maxChecksPerTask: batchSize,
  });
  const batch = () => {
    const now = Date.now();
    return Array.from({ length: batchSize }, () => ({ spec, scheduledAt: now }));
  };
  // Enough batches in flight to keep every thread's limiter full.
  const feeders = Math.max(4, Math.ceil((threads * concurrency * 3) / batchSize));
  for (let i = 0; i < feeders; i++) {
    loops.push(
      (async () => {
        while (!stop) await pool.run(batch(), count);
      })(),
    );
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
await sleep(Number(a.warmup) * 1000);
const d0 = done;
const f0 = failed;
const c0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
await sleep(Number(a.seconds) * 1000);
const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(c0);
const n = done - d0;
stop = true;
const out = {
  tool: a.inline ? 'watcher-inline' : 'watcher-pool',
  mode: a.probe === 'http' ? a.mode : a.probe,
  threads: a.inline ? 1 : threads,
  concurrency,
  checks: n,
  seconds: Math.round(elapsed * 100) / 100,
  checksPerSec: Math.round(n / elapsed),
  cpuUsPerCheck: n > 0 ? Math.round(((cpu.user + cpu.system) / n) * 10) / 10 : null,
  cpuCores: Math.round(((cpu.user + cpu.system) / 1e6 / elapsed) * 100) / 100,
  failed: failed - f0,
  errors: Object.fromEntries(errors),
};
console.log(JSON.stringify(out));
await Promise.race([Promise.allSettled(loops), sleep(6000)]);
if (pool) await pool.close(0);
process.exit(0);
