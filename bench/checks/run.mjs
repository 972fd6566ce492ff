#!/usr/bin/env node
/**
 * Check-engine benchmark: watcher (fresh-connection and keep-alive) next to wrk and Prometheus
 * blackbox_exporter against the same local target (nginx if installed, else a Node server), in
 * one run. `npm run build` first. About 30 s in all (3 s measured per phase after a warm-up).
 *
 *   node bench/checks/run.mjs [--seconds 3] [--warmup 2] [--threads 2] [--concurrency 64]
 *                             [--only watcher,undici,wrk,blackbox] [--json]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  HERE,
  measureBlackbox,
  procCpuMs,
  runNode,
  runTimed,
  startBlackbox,
  startTarget,
  which,
} from './lib.mjs';

const { values: a } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    // Check threads need ~2 s of traffic before their JIT is warm.
    warmup: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '64' },
    only: { type: 'string', default: 'watcher,undici,wrk,blackbox' },
    json: { type: 'boolean', default: false },
  },
});
const only = new Set(a.only.split(','));
const seconds = Number(a.seconds);
const warmup = Number(a.warmup);
const conc = Number(a.concurrency);
const rows = [];

const target = await startTarget();
const log = (...x) => console.error(...x);
log(`target: ${target.kind} ${target.url}`);

async function withTargetCpu(fn) {
  const c0 = procCpuMs(target.pid);
  const row = await fn();
  row.targetCpuMs = Math.round(procCpuMs(target.pid) - c0);
  return row;
}

try {
  if (only.has('watcher')) {
    const load = join(HERE, 'watcher-load.mjs');
    const common = ['--url', target.url, '--seconds', String(seconds), '--warmup', String(warmup)];
    for (const [mode, inline] of [
      ['fresh', false],
      ['keepalive', false],
      ['keepalive', true],
    ]) {
      const args = [load, ...common, '--mode', mode, '--threads', a.threads, '--concurrency', String(conc)];
      if (inline) args.push('--inline');
      log(`watcher ${mode}${inline ? ' inline' : ''}...`);
      rows.push(await withTargetCpu(() => runNode(args)));
    }
  }

  if (only.has('undici')) {
    log('bare undici baseline...');
    rows.push(
      await withTargetCpu(() =>
        runNode([join(HERE, 'undici-baseline.mjs'), target.url, String(seconds), String(conc)]),
      ),
    );
  }

  if (only.has('wrk') && which('wrk')) {
    for (const close of [false, true]) {
      log(`wrk ${close ? 'Connection: close' : 'keep-alive'}...`);
      const args = [
        '-t1',
        `-c${conc}`,
        `-d${seconds}s`,
        ...(close ? ['-H', 'Connection: close'] : []),
        target.url,
      ];
      const row = await withTargetCpu(async () => {
        const { stdout, childCpuMs } = await runTimed('wrk', args);
        const n = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
        const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
        const errs = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(stdout)?.[0] ?? null;
        return {
          tool: 'wrk',
          mode: close ? 'fresh' : 'keepalive',
          threads: 1,
          concurrency: conc,
          checks: n,
          seconds,
          checksPerSec: Math.round(rps),
          cpuUsPerCheck: n > 0 ? Math.round(((childCpuMs * 1000) / n) * 10) / 10 : null,
          cpuCores: Math.round((childCpuMs / 1000 / seconds) * 100) / 100,
          failed: errs,
        };
      });
      rows.push(row);
    }
  }

  if (only.has('blackbox')) {
    const bb = await startBlackbox();
    if (bb) {
      log('blackbox_exporter...');
      const row = await withTargetCpu(() => measureBlackbox(bb, 'http_body', target.url, { conc, seconds }));
      delete row.module;
      bb.stop();
      rows.push(row);
    } else {
      log('blackbox_exporter not installed: skipped');
    }
  }
} finally {
  target.stop();
}

for (const r of rows) {
  if (r.targetCpuMs !== undefined && r.checks > 0)
    r.targetCpuUsPerReq = Math.round((r.targetCpuMs * 1000) / r.checks);
}
const find = (tool, mode) => rows.find((r) => r.tool === tool && r.mode === mode);
const ratios = {};
const wf = find('watcher-pool', 'fresh');
const wk = find('watcher-pool', 'keepalive');
const wi = find('watcher-inline', 'keepalive');
const bbr = find('blackbox_exporter', 'fresh');
const wrkClose = find('wrk', 'fresh');
const wrkKa = find('wrk', 'keepalive');
if (wf && bbr) ratios.freshCpuVsBlackbox = +(wf.cpuUsPerCheck / bbr.cpuUsPerCheck).toFixed(2);
if (wf && wrkClose) ratios.freshCpuVsWrkClose = +(wf.cpuUsPerCheck / wrkClose.cpuUsPerCheck).toFixed(2);
if (wk) ratios.keepaliveVs44k = +(wk.checksPerSec / 44_000).toFixed(2);
const ub = find('undici-baseline', 'keepalive');
if (wk && ub) ratios.keepaliveRateVsBareUndici = +(wk.checksPerSec / ub.checksPerSec).toFixed(2);
if (wi && ub) ratios.inlineCpuVsBareUndici = +(wi.cpuUsPerCheck / ub.cpuUsPerCheck).toFixed(2);
if (wi) ratios.inlineKeepaliveVs44k = +(wi.checksPerSec / 44_000).toFixed(2);
if (wk && wrkKa) ratios.keepaliveCpuVsWrk = +(wk.cpuUsPerCheck / wrkKa.cpuUsPerCheck).toFixed(2);

if (a.json) {
  console.log(JSON.stringify({ target: target.kind, rows, ratios }, null, 2));
} else {
  const cols = [
    'tool',
    'mode',
    'threads',
    'checks',
    'checksPerSec',
    'cpuUsPerCheck',
    'cpuCores',
    'targetCpuUsPerReq',
    'failed',
  ];
  const fmt = (v) =>
    v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  console.log(`| ${cols.join(' | ')} |`);
  console.log(`| ${cols.map(() => '---').join(' | ')} |`);
  for (const r of rows) console.log(`| ${cols.map((c) => fmt(r[c])).join(' | ')} |`);
  console.log('');
  console.log('ratios:', JSON.stringify(ratios));
  const errs = rows
    .filter((r) => r.errors && Object.keys(r.errors).length > 0)
    .map((r) => `${r.tool}/${r.mode}: ${JSON.stringify(r.errors)}`);
  if (errs.length) console.log('errors:', errs.join('; '));
}
