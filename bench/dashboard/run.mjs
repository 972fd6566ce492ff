#!/usr/bin/env node
/**
 * The dashboard page in headless Debian Chromium with a synthetic cluster: N endpoints (30
 * latencies of history each, 3 workers) in the status document and E events/s on the stream (one
 * in 100 a state change), served by a stub with the real page (dist/server/dashboard.js).
 * Build first: `npm run build`.
 *
 *   node bench/dashboard/run.mjs [--endpoints 10000] [--rate 1000] [--seconds 30] [--json FILE]
 *
 * Reports: time to first render (navigation start → table filled, `window.__watcher`), status
 * document size, per-frame update time (mean, p99 over frames, max), events applied per second,
 * main-thread busy share (CDP TaskDuration), JS heap used after the run and its peak (CDP).
 */
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { DASHBOARD_HTML } from '../../dist/server/dashboard.js';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const N = Number(opt('endpoints', '10000'));
const RATE = Number(opt('rate', '1000'));
const SECONDS = Number(opt('seconds', '30'));
const JSON_OUT = opt('json', null);
const WORKERS = ['w1', 'w2', 'w3'];

const name = (i) => `api-${String(i).padStart(5, '0')}.example.internal/health`;
const now0 = Date.now();
const history = () => Array.from({ length: 30 }, (_, k) => (k % 17 === 16 ? null : 5 + ((k * 7) % 40) / 3));
const endpoints = Array.from({ length: N }, (_, i) => ({
  name: name(i),
  file: `endpoints.d/part${i % 10}.yml`,
  url: `https://${name(i)}`,
  owner: WORKERS[i % 3],
  state: i % 97 === 0 ? 'DOWN' : 'UP',
  suppressed: false,
  since: now0 - 60_000,
  next_due: now0 + 1000,
  skipped_slots: 0,
  depends_on: i > 0 && i < 40 ? [name(0)] : [],
  last: {
    scheduled_at: now0 - 1000,
    started_at: now0 - 999,
    duration_ms: 12.3,
    ok: i % 97 !== 0,
    status_code: i % 97 === 0 ? 503 : 200,
    error: i % 97 === 0 ? 'status 503' : null,
  },
  history_ms: history(),
}));
const statusDoc = JSON.stringify({
  version: 2,
  scope: 'cluster',
  generated_at: now0,
  worker: {
    id: 'w1',
    address: '127.0.0.1:0',
    mode: 'etcd',
    watcher_version: 'bench',
    admin: true,
    etcd_up: true,
    jobs: N / 3,
    lag_p99_ms: 2,
    overloaded: false,
    overloaded_since: null,
    behind_jobs: 0,
    served_rate: null,
    coverage: 1,
    checks_pending: 0,
    checks_run: 0,
    checks_skipped: {},
  },
  cluster: {
    mode: 'etcd',
    admin: 'w1',
    etcd_up: true,
    waiting: 0,
    workers: WORKERS.map((id) => ({
      id,
      address: '127.0.0.1:0',
      admin: id === 'w1',
      watcher_version: 'bench',
      started_at: now0,
      jobs: N / 3,
      jobsets: 53,
      capacity: null,
      lag_p99_ms: 2,
      shedding: false,
      overloaded: false,
      owned_rate: 1000,
      served_rate: null,
      coverage: 1,
      lease_ok: true,
      answered: true,
    })),
    jobsets: [],
  },
  unanswered: [],
  partial: false,
  config: { files: [], problems: [] },
  sinks: [],
  endpoints,
});

let sent = 0;
const server = createServer((req, res) => {
  if (req.url === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(DASHBOARD_HTML);
  } else if (req.url.startsWith('/api/v1/status')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(statusDoc);
  } else if (req.url.startsWith('/api/v1/events')) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('retry: 2000\n\n');
    let seq = 0;
    // 10 ms ticks: RATE/100 events each
    const timer = setInterval(() => {
      const t = Date.now();
      let chunk = '';
      for (let k = 0; k < RATE / 100; k++) {
        const i = Math.floor(Math.random() * N);
        const ok = Math.random() > 0.01;
        seq++;
        if (seq % 100 === 0) {
          chunk += `id: b.${seq}\nevent: state\ndata: ${JSON.stringify({ endpoint: name(i), from: 'UP', to: ok ? 'UP' : 'DOWN', at: t, reason: ok ? null : 'status 503', suppressed: false, id: `s${seq}`, origin: WORKERS[i % 3] })}\n\n`;
        } else {
          chunk += `id: b.${seq}\nevent: result\ndata: ${JSON.stringify({ endpoint: name(i), scheduled_at: t - 2, started_at: t - 1, duration_ms: 5 + Math.random() * 30, ok, status_code: ok ? 200 : 503, error: ok ? null : 'status 503', values: {}, worker: WORKERS[i % 3], origin: WORKERS[i % 3] })}\n\n`;
        }
      }
      sent += RATE / 100;
      res.write(chunk);
    }, 10);
    req.on('close', () => clearInterval(timer));
  } else {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const metric = async () =>
    Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  await page.goto(`${base}/`);
  await page.waitForFunction(() => window.__watcher && window.__watcher.firstRenderMs !== null, null, {
    timeout: 30_000,
  });
  const first = await page.evaluate(() => ({ ...window.__watcher }));
  const rowsShown = await page.locator('.row:not([hidden])').count();
  // frame times during the run, from inside the page
  await page.evaluate(() => {
    window.__frames = [];
    const s = window.__watcher;
    let last = s.flushMsTotal;
    let lastN = s.flushes;
    const tick = () => {
      if (s.flushes !== lastN) {
        window.__frames.push((s.flushMsTotal - last) / (s.flushes - lastN));
        last = s.flushMsTotal;
        lastN = s.flushes;
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const m0 = await metric();
  const e0 = first.events;
  const sent0 = sent;
  let heapPeak = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < SECONDS * 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    heapPeak = Math.max(heapPeak, (await metric()).JSHeapUsedSize);
  }
  const m1 = await metric();
  const end = await page.evaluate(() => ({ ...window.__watcher, frames: window.__frames }));
  const elapsed = (Date.now() - t0) / 1000;
  const frames = end.frames.sort((a, b) => a - b);
  const p = (q) => frames[Math.min(frames.length - 1, Math.floor(q * frames.length))] ?? 0;
  await page.screenshot({ path: 'bench/out/dashboard.png' }).catch(() => {});
  const out = {
    endpoints: N,
    rate: RATE,
    seconds: elapsed,
    status_kb: Math.round(statusDoc.length / 1024),
    first_render_ms: Math.round(first.firstRenderMs),
    rows_in_dom: rowsShown,
    events_applied_per_s: Math.round((end.events - e0) / elapsed),
    events_sent_per_s: Math.round((sent - sent0) / elapsed),
    frames: frames.length,
    frame_update_ms_mean: +(frames.reduce((a, b) => a + b, 0) / Math.max(1, frames.length)).toFixed(2),
    frame_update_ms_p99: +p(0.99).toFixed(2),
    frame_update_ms_max: +frames.at(-1)?.toFixed(2),
    main_thread_busy_pct: +((100 * (m1.TaskDuration - m0.TaskDuration)) / elapsed).toFixed(1),
    js_heap_mb_end: +(m1.JSHeapUsedSize / 1048576).toFixed(1),
    js_heap_mb_peak: +(heapPeak / 1048576).toFixed(1),
    dom_nodes: m1.Nodes,
  };
  console.log(JSON.stringify(out, null, 2));
  if (JSON_OUT) appendFileSync(JSON_OUT, `${JSON.stringify({ at: new Date().toISOString(), ...out })}\n`);
} finally {
  await browser.close();
  server.close();
  server.closeAllConnections();
}
