#!/usr/bin/env node
/**
 * tcp, tls and dns probes: watcher's check pool next to blackbox_exporter's `tcp_connect`,
 * `tcp` with `tls: true`, and `dns` modules, on the same local targets in one run: nginx (a plain
 * port for tcp, a TLS port with a certificate made here for tls) and a one-thread DNS responder
 * (bench/checks/dns-target.mjs). CPU per check of each side; `npm run build` first.
 *
 *   node bench/checks/probes.mjs [--seconds 3] [--warmup 2] [--threads 2] [--concurrency 64]
 *                                [--only tcp,tls,dns] [--json]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, HERE, measureBlackbox, procCpuMs, runNode, startBlackbox, startTarget } from './lib.mjs';

const { values: a } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '64' },
    only: { type: 'string', default: 'tcp,tls,dns' },
    json: { type: 'boolean', default: false },
  },
});
const only = new Set(a.only.split(','));
const seconds = Number(a.seconds);
const conc = Number(a.concurrency);
const log = (...x) => console.error(...x);

/** A CA and a leaf for localhost / 127.0.0.1 (EC P-256: what most sites serve now). */
function makeCerts() {
  const dir = mkdtempSync(join(tmpdir(), 'watcher-bench-certs-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ssl = (args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const p = (f) => join(dir, f);
  ssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-days',
    '2',
    '-subj',
    '/CN=bench-ca',
  ]);
  ssl(['req', ...ec, '-keyout', p('leaf.key'), '-out', p('leaf.csr'), '-subj', '/CN=localhost']);
  writeFileSync(p('leaf.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  ssl([
    'x509',
    '-req',
    '-in',
    p('leaf.csr'),
    '-CA',
    p('ca.crt'),
    '-CAkey',
    p('ca.key'),
    '-set_serial',
    '1',
    '-out',
    p('leaf.crt'),
    '-days',
    '2',
    '-extfile',
    p('leaf.ext'),
  ]);
  return { ca: p('ca.crt'), cert: p('leaf.crt'), key: p('leaf.key') };
}

async function startDns() {
  const port = await freePort();
  const child = spawn(process.execPath, [join(HERE, 'dns-target.mjs'), String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', () => reject(new Error('dns target exited')));
  });
  return { server: `127.0.0.1:${port}`, pid: child.pid, stop: () => child.kill('SIGTERM') };
}

const certs = makeCerts();
const target = await startTarget({ tls: { cert: certs.cert, key: certs.key } });
const dns = await startDns();
log(`targets: ${target.kind} tcp :${target.port} tls :${target.tlsPort ?? '-'}, dns ${dns.server}`);

const MODULES = `  tcp_connect:
    prober: tcp
    timeout: 5s
    tcp: { preferred_ip_protocol: ip4, ip_protocol_fallback: false }
  tcp_tls:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      tls: true
      tls_config: { ca_file: ${certs.ca}, server_name: localhost }
  dns_a:
    prober: dns
    timeout: 5s
    dns:
      query_name: bench.test
      query_type: A
      transport_protocol: udp
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      valid_rcodes: [NOERROR]
      validate_answer_rrs:
        fail_if_not_matches_regexp: ['203\\.0\\.113\\.7']
`;

const phases = [
  {
    probe: 'tcp',
    args: ['--url', `tcp://127.0.0.1:${target.port}`],
    module: 'tcp_connect',
    bbTarget: `127.0.0.1:${target.port}`,
    targetPid: target.pid,
  },
  {
    probe: 'tls',
    args: ['--url', `tls://127.0.0.1:${target.tlsPort}`, '--ca-file', certs.ca, '--server-name', 'localhost'],
    module: 'tcp_tls',
    bbTarget: `127.0.0.1:${target.tlsPort}`,
    targetPid: target.pid,
    skip: target.tlsPort === null ? 'no nginx: no TLS target' : null,
  },
  {
    probe: 'dns',
    args: ['--url', 'dns://bench.test', '--dns-server', dns.server],
    module: 'dns_a',
    bbTarget: dns.server,
    targetPid: dns.pid,
  },
];

const rows = [];
const ratios = {};
const bb = await startBlackbox(MODULES);
if (!bb) log('blackbox_exporter not installed: only watcher rows');
try {
  for (const ph of phases) {
    if (!only.has(ph.probe)) continue;
    if (ph.skip) {
      log(`${ph.probe}: skipped (${ph.skip})`);
      continue;
    }
    log(`watcher ${ph.probe}...`);
    const t0 = procCpuMs(ph.targetPid);
    const w = await runNode([
      join(HERE, 'watcher-load.mjs'),
      '--probe',
      ph.probe,
      ...ph.args,
      '--seconds',
      String(seconds),
      '--warmup',
      a.warmup,
      '--threads',
      a.threads,
      '--concurrency',
      String(conc),
    ]);
    w.targetCpuUsPerReq =
      w.checks > 0 ? Math.round(((procCpuMs(ph.targetPid) - t0) * 1000) / w.checks) : null;
    rows.push(w);
    if (!bb) continue;
    log(`blackbox_exporter ${ph.module}...`);
    const t1 = procCpuMs(ph.targetPid);
    const b = await measureBlackbox(bb, ph.module, ph.bbTarget, { conc, seconds });
    b.mode = ph.probe;
    b.targetCpuUsPerReq =
      b.checks > 0 ? Math.round(((procCpuMs(ph.targetPid) - t1) * 1000) / b.checks) : null;
    rows.push(b);
    if (w.cpuUsPerCheck && b.cpuUsPerCheck)
      ratios[`${ph.probe}CpuVsBlackbox`] = +(w.cpuUsPerCheck / b.cpuUsPerCheck).toFixed(2);
  }
} finally {
  bb?.stop();
  dns.stop();
  target.stop();
}

if (a.json) {
  console.log(JSON.stringify({ target: target.kind, rows, ratios }, null, 2));
} else {
  const cols = [
    'tool',
    'mode',
    'module',
    'threads',
    'checks',
    'checksPerSec',
    'cpuUsPerCheck',
    'cpuCores',
    'failed',
    'targetCpuUsPerReq',
  ];
  console.log(cols.join('\t'));
  for (const r of rows) console.log(cols.map((c) => r[c] ?? '').join('\t'));
  console.log(JSON.stringify(ratios));
  for (const r of rows)
    if (r.errors && Object.keys(r.errors).length)
      console.log(r.tool, r.mode, 'errors', JSON.stringify(r.errors));
}
