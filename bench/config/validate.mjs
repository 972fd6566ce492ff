#!/usr/bin/env node
// How fast endpoint files load: `watcher validate` on 1,000 endpoints (a cold process, as a user
// runs it) and the in-process loader (warm, as a running worker reloads). References in the same
// run: a bare `node -e 0`, and a cold process that only parses the same files with the `yaml`
// library (parseDocument + toJS, as the loader must). Run after `npm run build`:
//   node bench/config/validate.mjs [--runs 5] [--endpoints 1000] [--files 20]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    endpoints: { type: 'string', default: '1000' },
    files: { type: 'string', default: '20' },
  },
});
const runs = Number(values.runs);
const endpoints = Number(values.endpoints);
const files = Number(values.files);

const dir = mkdtempSync(join(tmpdir(), 'watcher-bench-config-'));
const perFile = Math.ceil(endpoints / files);
for (let f = 0; f < files; f++) {
  let text = 'defaults:\n  scheme: http\n  timeout: 2s\n';
  for (let i = 0; i < perFile && f * perFile + i < endpoints; i++) {
    const k = f * perFile + i;
    const sched =
      k % 2 ? `  interval: ${10 + (k % 50)}s\n` : `  cron_schedule: "*/${1 + (k % 30)} * * * * *"\n`;
    text +=
      `host${k}.example.com:8080/health/${k}:\n${sched}  response_json_values: [status, app]\n` +
      `  success_test:\n    - { status_code: 200 }\n    - { key: status, value: ok }\n` +
      `    - { key: db.latency_ms, op: "<", value: 250 }\n  tags: [team:${k % 7}]\n`;
  }
  writeFileSync(join(dir, `file${String(f).padStart(2, '0')}.yml`), text);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const yamlOnly = `
  const { readdirSync, readFileSync } = await import('node:fs');
  const { parseDocument, LineCounter } = await import(${JSON.stringify(pathToFileURL(join(root, 'node_modules/yaml/dist/index.js')).href)});
  const dir = ${JSON.stringify(dir)};
  let n = 0;
  for (const f of readdirSync(dir).sort()) {
    const doc = parseDocument(readFileSync(dir + '/' + f, 'utf8'), { lineCounter: new LineCounter(), merge: true, uniqueKeys: false });
    n += Object.keys(doc.toJS()).length;
  }
  if (n < ${endpoints}) process.exit(1);`;
const cases = {
  node: [process.execPath, ['-e', '0']],
  yaml: [process.execPath, ['--input-type=module', '-e', yamlOnly]],
  validate: [process.execPath, [join(root, 'dist/cli/main.js'), 'validate', dir]],
};
const cold = { node: [], yaml: [], validate: [] };
for (let i = 0; i < runs; i++) {
  // interleaved, so that a noisy moment on the machine hits all three alike
  for (const [name, [cmd, args]] of Object.entries(cases)) {
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    cold[name].push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`${name} failed: ${r.stdout}${r.stderr}`);
  }
}

const { loadDir } = await import(pathToFileURL(join(root, 'dist/config/index.js')).href);
await loadDir(dir); // warm: schema compiled, JIT warm
const warm = [];
const cpu = [];
for (let i = 0; i < runs; i++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const s = await loadDir(dir);
  warm.push(performance.now() - t0);
  const c = process.cpuUsage(c0);
  cpu.push((c.user + c.system) / 1000);
  if (s.endpoints.length !== endpoints) throw new Error(`loaded ${s.endpoints.length} endpoints`);
}
rmSync(dir, { recursive: true, force: true });

const f = (xs) =>
  `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
console.log(
  `${endpoints} endpoints in ${files} files, ${runs} runs, load average ${loadavg()[0].toFixed(1)}`,
);
console.log(`node -e 0 (reference):                ${f(cold.node)}`);
console.log(`yaml parse only, cold (reference):    ${f(cold.yaml)}`);
console.log(`watcher validate, cold process (wall): ${f(cold.validate)}`);
const ratio = cold.validate.map((v, i) => v / cold.yaml[i]);
console.log(`validate / yaml-only, per run:         median ${median(ratio).toFixed(2)}x`);
console.log(`loadDir in process, warm (wall):       ${f(warm)}`);
console.log(`loadDir in process, warm (CPU):        ${f(cpu)}`);
