#!/usr/bin/env node
/**
 * `npm run bench` (full, ~15 min) / `npm run bench -- --quick` (~4 min): every benchmark, each
 * figure next to its reference measured in the same run, written as
 * bench/out/latest.json + bench/out/latest.md, and the table between the `bench:latest` markers of
 * bench/README.md. Builds first unless --no-build. `--only a,b` runs some phases (names below).
 *
 * Each phase is an existing bench script run as a child process with a deadline; a phase that
 * fails or is skipped (tool missing) gives a row saying so instead of stopping the run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: a } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    'no-readme': { type: 'boolean', default: false },
  },
});
const quick = a.quick;
const only = a.only ? new Set(a.only.split(',')) : null;
const log = (...x) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...x);
const which = (c) => spawnSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' }).stdout.trim() || null;

/** Run a command with a deadline; resolves { code, stdout, stderr }. */
function run(cmd, args, { timeoutS, env = {} }) {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, detached: true });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => {
      stdout += d;
    });
    p.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
    });
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${timeoutS} s)`;
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {}
    }, timeoutS * 1000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
const node = (script, args, o) => run(process.execPath, [join(ROOT, script), ...args], o);
const lastJson = (text) =>
  JSON.parse(
    text
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .pop(),
  );
const r2 = (x) => (Number.isFinite(x) ? Math.round(x * 100) / 100 : null);

/**
 * A row: what was measured, its value, the reference of the same run and the ratio value/ref.
 * `goal` says which way is good and where the target is (as text).
 */
function row(phase, figure, value, unit, reference = null, refValue = null, goal = '', note = '') {
  const ratio =
    Number.isFinite(value) && Number.isFinite(refValue) && refValue !== 0 ? r2(value / refValue) : null;
  return { phase, figure, value, unit, reference, refValue, ratio, goal, note };
}

const PHASES = [
  {
    name: 'process-cpu',
    what: 'whole `watcher run`, 2,000 endpoints at 1 s, fresh connections; blackbox_exporter at the same rate',
    async run() {
      const args = quick ? ['--warmup', '5', '--seconds', '8'] : ['--warmup', '8', '--seconds', '15'];
      const r = await node('bench/process/cpu.mjs', args, { timeoutS: 150 });
      const d = lastJson(r.stdout);
      const w = d.watcher;
      const bb = d.blackbox;
      const main = w.perThreadUsPerCheck?.main;
      return [
        row(
          this.name,
          `CPU per check, whole process (${w.checksPerSec}/s; main thread ${main} µs)`,
          w.cpuUsPerCheck,
          'µs',
          bb ? `blackbox_exporter CPU per probe (${bb.checksPerSec}/s)` : 'blackbox_exporter missing',
          bb?.cpuUsPerCheck ?? null,
          '≤ 0.35×',
        ),
        row(this.name, 'RSS with 2,000 endpoints', w.rssMb, 'MB'),
      ];
    },
  },
  {
    name: 'keepalive-pinned',
    what: 'check pool (1 thread) at full speed, keep-alive, pinned to CPU 0, nginx pinned to CPU 1; bare undici pinned the same',
    async run() {
      if (!which('taskset')) return [row(this.name, 'skipped: taskset missing', null, '')];
      const { startTarget } = await import('./checks/lib.mjs');
      const target = await startTarget();
      try {
        spawnSync('taskset', ['-a', '-pc', '1', String(target.pid)]);
        const s = quick ? '3' : '5';
        /** a bench script on CPU 0, its last JSON line */
        const onCpu0 = async (script, args) =>
          lastJson(
            (
              await run('taskset', ['-c', '0', process.execPath, join(ROOT, script), ...args], {
                timeoutS: 60,
              })
            ).stdout,
          );
        const load = ['--url', target.url, '--mode', 'keepalive', '--seconds', s];
        const w = await onCpu0('bench/checks/watcher-load.mjs', [...load, '--threads', '1']);
        const i = await onCpu0('bench/checks/watcher-load.mjs', [...load, '--inline']);
        const u = await onCpu0('bench/checks/undici-baseline.mjs', [target.url, s, '64']);
        return [
          row(
            this.name,
            'keep-alive checks/s, pool of 1 thread',
            w.checksPerSec,
            '/s',
            'bare undici /s',
            u.checksPerSec,
            '≥ 40,000/s',
          ),
          row(
            this.name,
            'keep-alive checks/s, runCheck inline',
            i.checksPerSec,
            '/s',
            'bare undici /s',
            u.checksPerSec,
          ),
          row(
            this.name,
            'keep-alive CPU per check, pool',
            w.cpuUsPerCheck,
            'µs',
            'bare undici µs',
            u.cpuUsPerCheck,
          ),
        ];
      } finally {
        target.stop();
      }
    },
  },
  {
    name: 'checks',
    what: 'bench/checks/run.mjs: check pool alone (2 threads) vs wrk and blackbox_exporter at full speed',
    async run() {
      const args = ['--json', '--seconds', quick ? '2' : '3', '--warmup', quick ? '1' : '2'];
      const r = await node('bench/checks/run.mjs', args, { timeoutS: 180 });
      const d = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
      const find = (tool, mode) => d.rows.find((x) => x.tool === tool && x.mode === mode);
      const wf = find('watcher-pool', 'fresh');
      const bb = find('blackbox_exporter', 'fresh');
      const wc = find('wrk', 'fresh');
      const wk = find('watcher-pool', 'keepalive');
      const wrkKa = find('wrk', 'keepalive');
      return [
        row(
          this.name,
          'pool CPU per fresh check',
          wf?.cpuUsPerCheck,
          'µs',
          'blackbox_exporter µs/probe',
          bb?.cpuUsPerCheck,
          '≤ 0.5×',
        ),
        row(
          this.name,
          'pool CPU per fresh check',
          wf?.cpuUsPerCheck,
          'µs',
          'wrk Connection: close µs/req',
          wc?.cpuUsPerCheck,
        ),
        row(
          this.name,
          'pool keep-alive checks/s (2 threads, unpinned)',
          wk?.checksPerSec,
          '/s',
          'wrk keep-alive /s',
          wrkKa?.checksPerSec,
        ),
      ];
    },
  },
  {
    name: 'config',
    what: 'bench/config/validate.mjs: `watcher validate` of 1,000 endpoints, cold process',
    async run() {
      const r = await node('bench/config/validate.mjs', ['--runs', quick ? '3' : '5'], { timeoutS: 120 });
      const ms = (label) => Number(new RegExp(`${label}.*?median (\\d+) ms`).exec(r.stdout)?.[1]);
      return [
        row(
          this.name,
          'watcher validate, 1,000 endpoints (wall)',
          ms('watcher validate, cold'),
          'ms',
          'yaml parse only, cold process',
          ms('yaml parse only'),
          '',
        ),
        row(
          this.name,
          'loadDir in process, warm (wall)',
          ms('loadDir in process, warm \\(wall\\)'),
          'ms',
          'node -e 0',
          ms('node -e 0'),
        ),
      ];
    },
  },
  {
    name: 'config-10k',
    what: '`watcher validate` of one generated file of 10,000 endpoints (~1.4 MB)',
    async run() {
      const { mkdtempSync, rmSync } = await import('node:fs');
      const { tmpdir } = await import('node:os');
      const dir = mkdtempSync(join(tmpdir(), 'watcher-bench-10k-'));
      let text = 'defaults:\n  scheme: http\n  timeout: 2s\n';
      for (let k = 0; k < 10_000; k++)
        text += `host${k}.example.com:8080/health/${k}:\n  interval: ${10 + (k % 50)}s\n  response_json_values: [status]\n  success_test:\n    - { status_code: 200 }\n    - { key: status, value: ok }\n  tags: [team:${k % 7}]\n`;
      writeFileSync(join(dir, 'all.yml'), text);
      const t0 = performance.now();
      const r = await node('dist/cli/main.js', ['validate', join(dir, 'all.yml')], { timeoutS: 60 });
      const ms = performance.now() - t0;
      const t1 = performance.now();
      await run(process.execPath, ['-e', '0'], { timeoutS: 10 });
      const bare = performance.now() - t1;
      rmSync(dir, { recursive: true, force: true });
      const ok = r.code === 0 && r.stdout.includes('10000 endpoints, no problems');
      return [
        row(
          this.name,
          `validate one 10,000-endpoint file of ${(text.length / 1e6).toFixed(2)} MB${ok ? '' : ' (FAILED)'}`,
          Math.round(ms),
          'ms',
          'node -e 0',
          Math.round(bare),
          'loads',
        ),
      ];
    },
  },
  {
    name: 'schedule',
    what: 'bench/schedule/lateness.mjs: the scheduler alone, 10,000 jobs every 5 s',
    async run() {
      const s = quick ? '8' : '20';
      const exact = lastJson(
        (await node('bench/schedule/lateness.mjs', ['--seconds', s], { timeoutS: 90 })).stdout,
      );
      const co = lastJson(
        (await node('bench/schedule/lateness.mjs', ['--seconds', s, '--coalesce', '20'], { timeoutS: 90 }))
          .stdout,
      );
      return [
        row(
          this.name,
          'scheduler CPU per check, coalesce 20 ms (as watcher run)',
          co.cpuUsPerCheck,
          'µs',
          'coalesce 0 (exact)',
          exact.cpuUsPerCheck,
        ),
        row(
          this.name,
          'scheduler lateness p99, coalesce 20 ms',
          co.latenessMs.p99,
          'ms',
          'coalesce 0',
          exact.latenessMs.p99,
          '≤ 20 ms',
        ),
      ];
    },
  },
  {
    name: 'engine',
    full: true,
    what: 'bench/engine/run.mjs lateness + rss: `watcher run` with 10,000 endpoints',
    async run() {
      const out = join(ROOT, 'bench/out/engine.jsonl');
      writeFileSync(out, '');
      await node('bench/engine/run.mjs', ['lateness', '--fresh', '--seconds', '25', '--json', out], {
        timeoutS: 150,
      });
      await node('bench/engine/run.mjs', ['rss', '--seconds', '25', '--json', out], { timeoutS: 150 });
      const lines = readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      const late = lines.find((l) => l.lateness_ms);
      const rss = lines.find((l) => l.scenario?.startsWith('rss'));
      return [
        row(
          this.name,
          'check lateness p99, 10,000 endpoints fresh',
          late?.lateness_ms?.p99,
          'ms',
          'timer noise floor p99 (same run)',
          late?.noise_floor_ms?.p99,
        ),
        row(
          this.name,
          'RSS with 10,000 endpoints',
          r2(rss?.steady_rss_mb),
          'MB',
          'idle worker RSS',
          r2(rss?.baseline?.rss),
        ),
      ];
    },
  },
  {
    name: 'cluster',
    what: 'bench/cluster/rows.mjs: real etcd, real `watcher run` processes',
    async run() {
      const r = await node('bench/cluster/rows.mjs', quick ? ['--quick'] : [], {
        timeoutS: quick ? 240 : 600,
      });
      const d = lastJson(r.stdout);
      this.raw = d.raw;
      return d.rows.map((x) => ({ phase: this.name, ...x }));
    },
  },
  {
    name: 'balance',
    what: 'bench/balance/run.mjs: real coordinators in one process on a real etcd, workers joining one at a time',
    async run() {
      const args = ['--json', '--jobsets', quick ? '300' : '1000', '--workers', quick ? '3' : '5'];
      const r = await node('bench/balance/run.mjs', args, { timeoutS: quick ? 150 : 400 });
      const d = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
      return d.rows
        .filter((x) => x.workers > 1)
        .map((x) =>
          row(
            this.name,
            `join of worker ${x.workers}: time to even share (${d.jobsets} jobsets; moved ${x.moved}, goal ≤ ${x.goal})`,
            Math.round(x.evenMs / 100) / 10,
            's',
          ),
        );
    },
  },
  {
    name: 'sim',
    what: 'bench/cluster/sim.mjs: SIMULATION of coordination only (no checks), many workers, one etcd',
    async run() {
      // 100 workers × 100,000 endpoints does not fit this machine's memory (every worker mirrors
      // every jobset: ~300 MB per worker at 100k); full mode runs 100 × 20k and 20 × 100k instead.
      const configs = quick
        ? [['--quick']]
        : [
            ['--workers', '100', '--endpoints', '20000'],
            ['--workers', '20', '--endpoints', '100000'],
          ];
      const out = [];
      for (const args of configs) {
        const r = await node('bench/cluster/sim.mjs', args, { timeoutS: 420 });
        if (r.code !== 0) throw new Error(`sim ${args.join(' ')}: ${r.stderr.slice(-300)}`);
        const d = lastJson(r.stdout);
        this.raw = [...(this.raw ?? []), d.raw];
        out.push(...d.rows.map((x) => ({ phase: this.name, ...x })));
      }
      return out;
    },
  },
];

if (!a['no-build']) {
  log('npm run build');
  const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (b.status !== 0) process.exit(1);
}
mkdirSync(join(ROOT, 'bench/out'), { recursive: true });
const started = new Date();
const machine = {
  cores: cpus().length,
  cpu: cpus()[0]?.model ?? '?',
  memGb: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  loadStart: loadavg().map(r2),
};
const rows = [];
const phases = [];
for (const ph of PHASES) {
  if (only && !only.has(ph.name)) continue;
  if (!only && quick && ph.full) continue;
  log(`${ph.name}: ${ph.what}`);
  const t0 = Date.now();
  const load0 = loadavg()[0];
  try {
    const got = await ph.run();
    rows.push(...got);
    phases.push({
      name: ph.name,
      ok: true,
      ...(ph.raw ? { raw: ph.raw } : {}),
      seconds: Math.round((Date.now() - t0) / 1000),
      load1: [r2(load0), r2(loadavg()[0])],
    });
  } catch (err) {
    log(`${ph.name} failed: ${err.stack ?? err}`);
    rows.push(row(ph.name, `FAILED: ${String(err.message ?? err).slice(0, 120)}`, null, ''));
    phases.push({
      name: ph.name,
      ok: false,
      seconds: Math.round((Date.now() - t0) / 1000),
      load1: [r2(load0), r2(loadavg()[0])],
    });
  }
}
machine.loadEnd = loadavg().map(r2);

const result = { date: started.toISOString(), mode: quick ? 'quick' : 'full', machine, phases, rows };
const fmt = (v) =>
  v === null || v === undefined || Number.isNaN(v)
    ? '–'
    : typeof v === 'number'
      ? v.toLocaleString('en-US')
      : String(v);
const md = [
  `Run ${result.date.slice(0, 16).replace('T', ' ')} UTC, \`npm run bench${quick ? ' -- --quick' : ''}\`, ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, load average ${machine.loadStart[0]} → ${machine.loadEnd[0]} (1 min).`,
  '',
  '| phase | figure | value | reference (same run) | ref. value | ratio | goal |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map(
    (r) =>
      `| ${r.phase} | ${r.figure}${r.note ? ` (${r.note})` : ''} | ${fmt(r.value)} ${r.unit ?? ''} | ${r.reference ?? '–'} | ${fmt(r.refValue)} | ${r.ratio === null ? '–' : `${r.ratio}×`} | ${r.goal || '–'} |`,
  ),
  '',
  `Phases: ${phases.map((p) => `${p.name} ${p.ok ? '' : '(failed) '}${p.seconds} s, load ${p.load1[0]}→${p.load1[1]}`).join('; ')}.`,
].join('\n');
writeFileSync(join(ROOT, 'bench/out/latest.json'), `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(join(ROOT, 'bench/out/latest.md'), `${md}\n`);
if (!a['no-readme'] && !only) {
  const readme = join(ROOT, 'bench/README.md');
  const text = readFileSync(readme, 'utf8');
  const begin = '<!-- bench:latest -->';
  const end = '<!-- /bench:latest -->';
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i >= 0 && j > i) writeFileSync(readme, `${text.slice(0, i + begin.length)}\n${md}\n${text.slice(j)}`);
}
process.stdout.write(`${md}\n`);
