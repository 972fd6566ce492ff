// Lateness of the scheduler alone (no checks): how long after its scheduled slot each job is handed
// on, on the real clock. Plain JS on the built output so it needs no extra tooling:
//
//   npm run build && node bench/schedule/lateness.mjs [--jobs 10000] [--every 5000] [--seconds 30] [--work-us 0] [--coalesce 0]
//
// --coalesce N sets Scheduler's coalesceMs (least ms between wake-ups).
// --work-us N busy-waits N µs per handed-on check in onDue, to see how dispatch cost on the main
// thread turns into lateness. WATCHER_DIST overrides the build folder (default ./dist).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .join(' ')
    .split('--')
    .filter(Boolean)
    .map((a) => a.trim().split(/\s+/)),
);
const jobs = Number(args.jobs ?? 10_000);
const everyMs = Number(args.every ?? 5_000);
const seconds = Number(args.seconds ?? 30);
const workUs = Number(args['work-us'] ?? 0);
const coalesceMs = Number(args.coalesce ?? 0);
const dist = resolve(process.env.WATCHER_DIST ?? 'dist');

const { Scheduler } = await import(pathToFileURL(resolve(dist, 'schedule/index.js')).href);
const { systemClock } = await import(pathToFileURL(resolve(dist, 'model/clock.js')).href);

const lateness = [];
let batches = 0;
const warmUntil = Date.now() + everyMs; // the first period includes start-up: not counted
const sched = new Scheduler({
  clock: systemClock,
  coalesceMs,
  onDue: (batch) => {
    batches++;
    for (const d of batch) {
      if (workUs > 0) {
        const end = performance.now() + workUs / 1000;
        while (performance.now() < end);
      }
      const now = Date.now();
      if (now >= warmUntil) lateness.push(now - d.scheduledAt);
    }
  },
});

const cpu0 = process.cpuUsage();
const t0 = performance.now();
sched.set(
  Array.from({ length: jobs }, (_, i) => ({
    id: `svc-${i}.example.com/health`,
    schedule: { kind: 'interval', everyMs },
    hash: 'h',
  })),
);
const setMs = performance.now() - t0;

await new Promise((r) => setTimeout(r, seconds * 1000));
sched.stop();
const cpu = process.cpuUsage(cpu0);

lateness.sort((a, b) => a - b);
const q = (p) => lateness[Math.min(lateness.length - 1, Math.ceil(p * lateness.length) - 1)] ?? null;
const s = sched.stats();
console.log(
  JSON.stringify({
    jobs,
    everyMs,
    seconds,
    workUs,
    coalesceMs,
    ratePerS: Math.round((jobs / everyMs) * 1000),
    setMs: Number(setMs.toFixed(1)),
    measured: lateness.length,
    latenessMs: { p50: q(0.5), p99: q(0.99), max: lateness.at(-1) ?? null },
    timerFirings: s.timerFirings,
    batches,
    skippedSlots: s.skippedSlots,
    cpuUsPerCheck: Number(((cpu.user + cpu.system) / Math.max(1, s.fired)).toFixed(2)),
    cpuUserSysMs: [Math.round(cpu.user / 1000), Math.round(cpu.system / 1000)],
    rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
  }),
);
