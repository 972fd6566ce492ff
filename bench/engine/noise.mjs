#!/usr/bin/env node
/**
 * Noise floor of the machine: `node noise.mjs SECONDS`. A process that does nothing but wake up
 * every 5 ms and measure how late its timer fired. On a shared, loaded machine this lateness is
 * what any process (the worker included) suffers from CPU contention alone. Prints one JSON line.
 */
const seconds = Number(process.argv[2] ?? 30);
const STEP = 5;
const lags = [];
const end = performance.now() + seconds * 1000;
let due = performance.now() + STEP;
const tick = () => {
  const now = performance.now();
  lags.push(now - due);
  if (now >= end) return done();
  due += STEP;
  if (due < now) due = now + STEP; // fell behind: do not queue a burst
  setTimeout(tick, Math.max(0, due - performance.now()));
};
setTimeout(tick, STEP);

function done() {
  const s = Float64Array.from(lags).sort();
  const q = (p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  const r = (x) => Math.round(x * 10) / 10;
  console.log(JSON.stringify({ n: s.length, p50: r(q(50)), p99: r(q(99)), max: r(s[s.length - 1]) }));
}
