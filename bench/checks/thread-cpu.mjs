#!/usr/bin/env node
/**
 * Where a pool's CPU goes: runs the check pool at full speed for a few seconds and prints the CPU
 * of every OS thread of this process (/proc/self/task) per check: the main thread, the check
 * threads, and V8/libuv helper threads (GC, compiler).
 *
 *   node bench/checks/thread-cpu.mjs --url http://127.0.0.1:8080/ok [--mode keepalive|fresh]
 *     [--threads 2] [--seconds 3] [--warmup 2]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CheckPool } from '../../dist/checks/pool.js';

const { values: a } = parseArgs({
  options: {
    url: { type: 'string' },
    mode: { type: 'string', default: 'keepalive' },
    threads: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '2' },
  },
});
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
  keepalive: a.mode === 'keepalive',
  maxBodyBytes: 1 << 20,
  successTests: [{ kind: 'json', key: 'status', op: '==', value: 'ok' }],
  responseJsonValues: ['status'],
};
const tick = 1000 / 100; // ms per clock tick (CLK_TCK 100 on Linux)
const snap = () =>
  Object.fromEntries(
    readdirSync('/proc/self/task').map((t) => {
      const s = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      return [t, (Number(f[11]) + Number(f[12])) * tick];
    }),
  );
const pool = new CheckPool({
  threads: Number(a.threads),
  worker: 'bench',
  maxConcurrentPerThread: 64,
  maxChecksPerTask: 128,
});
let n = 0;
let stop = false;
const loops = Array.from({ length: 4 }, async () => {
  while (!stop) {
    const now = Date.now();
    await pool.run(
      Array.from({ length: 128 }, () => ({ spec, scheduledAt: now })),
      () => n++,
    );
  }
});
await new Promise((r) => setTimeout(r, Number(a.warmup) * 1000));
const s0 = snap();
const n0 = n;
const t0 = performance.now();
await new Promise((r) => setTimeout(r, Number(a.seconds) * 1000));
const s1 = snap();
const k = n - n0;
const el = (performance.now() - t0) / 1000;
stop = true;
const main = String(process.pid);
console.log(`${a.mode}, ${a.threads} threads: ${Math.round(k / el)} checks/s`);
let total = 0;
for (const [tid, ms] of Object.entries(s1)) {
  const d = ms - (s0[tid] ?? 0);
  if (d <= 0) continue;
  total += d;
  const role = tid === main ? 'main' : d > 0.2 * (s1[main] - s0[main]) * 2 ? 'check thread?' : 'helper';
  console.log(
    `  tid ${tid.padEnd(8)} ${role.padEnd(14)} ${((d * 1000) / k).toFixed(1).padStart(7)} us/check`,
  );
}
console.log(`  total ${((total * 1000) / k).toFixed(1)} us/check`);
await Promise.allSettled(loops);
await pool.close(0);
