#!/usr/bin/env node
/**
 * Baseline for the keep-alive figure in REFERENCE.md: bare undici Pool, 64 in flight, JSON parse
 * + one test, one thread, no watcher code.
 * `node undici-baseline.mjs URL [seconds] [in-flight] [keepalive|fresh]`.
 */
import { Pool } from 'undici';

const url = new URL(process.argv[2]);
const seconds = Number(process.argv[3] ?? 4);
const conc = Number(process.argv[4] ?? 64);
// `fresh`: a new connection per request (reset: true sends Connection: close), like watcher's default.
const fresh = process.argv[5] === 'fresh';
const pool = new Pool(url.origin, { connections: conc });
let n = 0;
let bad = 0;
let stop = false;
const loops = Array.from({ length: conc }, async () => {
  while (!stop) {
    const res = await pool.request({ method: 'GET', path: url.pathname, reset: fresh });
    const j = await res.body.json();
    if (res.statusCode === 200 && j.status === 'ok') n++;
    else bad++;
  }
});
await new Promise((r) => setTimeout(r, 1000));
const n0 = n;
const c0 = process.cpuUsage();
const t0 = performance.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
const el = (performance.now() - t0) / 1000;
const c = process.cpuUsage(c0);
const k = n - n0;
stop = true;
console.log(
  JSON.stringify({
    tool: 'undici-baseline',
    mode: fresh ? 'fresh' : 'keepalive',
    threads: 1,
    checks: k,
    checksPerSec: Math.round(k / el),
    cpuUsPerCheck: Math.round(((c.user + c.system) / k) * 10) / 10,
    cpuCores: Math.round(((c.user + c.system) / 1e6 / el) * 100) / 100,
    bad,
  }),
);
await Promise.allSettled(loops);
await pool.close();
