/** Helpers for the check benchmarks: targets, blackbox_exporter, CPU time of other processes. */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const OK_BODY = '{"status":"ok","db":{"latency_ms":12}}';
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** user+system CPU ms of a process so far (/proc/PID/stat fields 14 and 15). */
export function procCpuMs(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function which(cmd) {
  try {
    return (
      execFileSync('sh', ['-c', `command -v ${cmd}`])
        .toString()
        .trim() || null
    );
  } catch {
    return null;
  }
}

export async function waitHttp(url, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.status < 500) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url} did not come up within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * nginx, one process (master_process off), serving /ok from memory. Falls back to Node.
 * `tls: { cert, key }` (nginx only) adds a TLS listener serving the same, at `tlsPort`.
 */
export async function startTarget(opts = {}) {
  const port = await freePort();
  const tlsPort = opts.tls ? await freePort() : null;
  const nginx = which('nginx') ?? (which('/usr/sbin/nginx') ? '/usr/sbin/nginx' : null);
  if (nginx) {
    const dir = mkdtempSync(join(tmpdir(), 'watcher-bench-nginx-'));
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      `daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid;
error_log ${dir}/error.log error; worker_rlimit_nofile 65536;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir};
  uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  keepalive_requests 100000000; keepalive_timeout 60s;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location = /ok { default_type application/json; return 200 '${OK_BODY}'; }
    location = /nginx_status { stub_status; }
  }${
    tlsPort === null
      ? ''
      : `
  server {
    listen 127.0.0.1:${tlsPort} ssl backlog=4096;
    ssl_certificate ${opts.tls.cert}; ssl_certificate_key ${opts.tls.key};
    location = /ok { default_type application/json; return 200 '${OK_BODY}'; }
  }`
  }
}
`,
    );
    const child = spawn(nginx, ['-p', dir, '-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
    const url = `http://127.0.0.1:${port}/ok`;
    await waitHttp(url);
    return {
      kind: 'nginx',
      url,
      port,
      tlsPort,
      pid: child.pid,
      stop: () => child.kill('SIGTERM'),
      /** connections accepted and requests served so far (stub_status) */
      counters: async () => {
        const text = await (await fetch(`http://127.0.0.1:${port}/nginx_status`)).text();
        const m = /\s(\d+)\s+(\d+)\s+(\d+)\s/.exec(text);
        return m ? { accepts: Number(m[1]), requests: Number(m[3]) } : null;
      },
    };
  }
  const child = spawn(process.execPath, [join(HERE, 'node-target.mjs'), String(port)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}/ok`;
  await waitHttp(url);
  return {
    kind: 'node',
    url,
    port,
    tlsPort: null,
    pid: child.pid,
    stop: () => child.kill('SIGTERM'),
    counters: async () => null,
  };
}

const HTTP_BODY_MODULE = `  http_body:
    prober: http
    timeout: 5s
    http:
      valid_status_codes: [200]
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      fail_if_body_not_matches_regexp: ['"status":"ok"']
`;

/** blackbox_exporter with the `http_body` module, or with `modules` (YAML under `modules:`). */
export async function startBlackbox(modules = HTTP_BODY_MODULE) {
  const bin = which('prometheus-blackbox-exporter') ?? which('blackbox_exporter');
  if (!bin) return null;
  const dir = mkdtempSync(join(tmpdir(), 'watcher-bench-bb-'));
  const conf = join(dir, 'blackbox.yml');
  writeFileSync(conf, `modules:\n${modules}`);
  const port = await freePort();
  const child = spawn(
    bin,
    [`--config.file=${conf}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=error'],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  await waitHttp(`http://127.0.0.1:${port}/-/healthy`);
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => child.kill('SIGTERM') };
}

/** Runs a command, returns { stdout, childCpuMs } (CPU of the command itself, from bash `times`). */
export function runTimed(cmd, args) {
  const quoted = [cmd, ...args].map((x) => `'${String(x).replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `${quoted}; echo "__TIMES__"; times`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', () => {
      const [stdout, times = ''] = out.split('__TIMES__');
      // second line of `times`: children's user and system time, like 0m1.234s 0m0.567s
      const line = times.trim().split('\n')[1] ?? '';
      const secs = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
      resolve({ stdout, childCpuMs: (secs[0] ?? 0) * 1000 + (secs[1] ?? 0) * 1000 });
    });
  });
}

/**
 * Drives blackbox_exporter's /probe?module=M&target=T with `conc` requests in flight: 1 s of
 * warm-up, then `seconds` measured. CPU is blackbox's own (/proc/<pid>/stat); a probe counts as
 * failed unless the answer says `probe_success 1`.
 */
export async function measureBlackbox(bb, module, target, { conc, seconds }) {
  const { Pool } = await import('undici');
  const client = new Pool(bb.url, { connections: conc, pipelining: 1 });
  const path = `/probe?module=${module}&target=${encodeURIComponent(target)}`;
  let ok = 0;
  let bad = 0;
  let stop = false;
  const loops = Array.from({ length: conc }, async () => {
    while (!stop) {
      const res = await client.request({ method: 'GET', path });
      const text = await res.body.text();
      if (/\nprobe_success 1/.test(text)) ok++;
      else bad++;
    }
  });
  await new Promise((r) => setTimeout(r, 1000));
  const n0 = ok + bad;
  const bad0 = bad;
  const c0 = procCpuMs(bb.pid);
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuMs = procCpuMs(bb.pid) - c0;
  const n = ok + bad - n0;
  const failed = bad - bad0;
  stop = true;
  await Promise.allSettled(loops);
  await client.close();
  return {
    tool: 'blackbox_exporter',
    mode: 'fresh',
    module,
    threads: null,
    concurrency: conc,
    checks: n,
    seconds: Math.round(elapsed * 100) / 100,
    checksPerSec: Math.round(n / elapsed),
    cpuUsPerCheck: n > 0 ? Math.round(((cpuMs * 1000) / n) * 10) / 10 : null,
    cpuCores: Math.round((cpuMs / 1000 / elapsed) * 100) / 100,
    failed,
  };
}

/** Runs a Node script that prints one JSON line last; resolves with it. */
export function runNode(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', () => {
      const line = out.trim().split('\n').pop();
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`bad output: ${out}`));
      }
    });
  });
}
