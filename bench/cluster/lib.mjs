/**
 * Helpers of the cluster benches: one real etcd member, `watcher run` worker processes, etcd's own
 * request and byte counters (its /metrics), ownership as etcd holds it.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { freePort } from '../engine/lib.mjs';

export { freePort };

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(ROOT, 'dist/cli/main.js');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = new Set();
process.on('exit', () => {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {}
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

export async function waitFor(cond, timeoutMs, what, stepMs = 50) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return Date.now();
    await sleep(stepMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
}

/** One etcd member (/usr/bin/etcd, or WATCHER_TEST_ETCD) on free ports, data in a temp dir. */
export async function startEtcd() {
  const bin = process.env.WATCHER_TEST_ETCD ?? '/usr/bin/etcd';
  const dir = mkdtempSync(join(tmpdir(), 'watcher-bench-etcd-'));
  const [cp, pp] = [await freePort(), await freePort()];
  const client = `http://127.0.0.1:${cp}`;
  const peer = `http://127.0.0.1:${pp}`;
  const proc = spawn(
    bin,
    [
      ...['--name', 'b1', '--data-dir', join(dir, 'data')],
      ...['--listen-client-urls', client, '--advertise-client-urls', client],
      ...['--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer],
      ...['--initial-cluster', `b1=${peer}`, '--initial-cluster-state', 'new'],
      ...['--max-request-bytes', '3145728', '--grpc-keepalive-min-time', '2s'],
      ...['--quota-backend-bytes', String(4 * 1024 ** 3)],
    ],
    { stdio: 'ignore' },
  );
  children.add(proc);
  const c = new Etcd3({ hosts: [client] });
  await waitFor(
    async () => {
      try {
        await c.get('probe').string();
        return true;
      } catch {
        return false;
      }
    },
    15_000,
    'etcd start',
    100,
  );
  return {
    url: client,
    pid: proc.pid,
    client: c,
    stop() {
      c.close();
      proc.kill('SIGKILL');
      children.delete(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * etcd's served requests and bytes so far, from its /metrics: gRPC calls handled (all methods;
 * unary calls and streams each count once) and messages received on streams (watch and lease
 * keep-alive traffic, which are streams), bytes in and out of its client gRPC server.
 */
export async function etcdCounters(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sum = (re) => {
    let n = 0;
    for (const line of text.split('\n')) {
      if (re.test(line)) n += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return n;
  };
  return {
    unary: sum(/^grpc_server_handled_total\{.*grpc_type="unary"/),
    streamMsgs: sum(/^grpc_server_msg_received_total\{.*grpc_type="bidi_stream"/),
    puts: sum(/^grpc_server_handled_total\{.*grpc_method="(Put|Txn|DeleteRange)"/),
    bytesIn: sum(/^etcd_network_client_grpc_received_bytes_total/),
    bytesOut: sum(/^etcd_network_client_grpc_sent_bytes_total/),
    at: Date.now(),
  };
}

export function rates(a, b) {
  const s = (b.at - a.at) / 1000;
  return {
    unaryPerS: (b.unary - a.unary) / s,
    streamMsgsPerS: (b.streamMsgs - a.streamMsgs) / s,
    requestsPerS: (b.unary - a.unary + b.streamMsgs - a.streamMsgs) / s,
    writesPerS: (b.puts - a.puts) / s,
    bytesInPerS: (b.bytesIn - a.bytesIn) / s,
    bytesOutPerS: (b.bytesOut - a.bytesOut) / s,
  };
}

/** jobset id -> owner id (null when released) as etcd holds it. */
export async function owners(client, cluster) {
  const prefix = `/watcher/${cluster}/owners/`;
  const all = await client.getAll().prefix(prefix).strings();
  const out = new Map();
  for (const [k, v] of Object.entries(all)) {
    try {
      out.set(k.slice(prefix.length), JSON.parse(v).owner ?? null);
    } catch {
      out.set(k.slice(prefix.length), null);
    }
  }
  return out;
}

export async function jobsetIds(client, cluster) {
  const prefix = `/watcher/${cluster}/jobsets/`;
  return (await client.getAll().prefix(prefix).keys()).map((k) => String(k).slice(prefix.length));
}

export async function adminOf(client, cluster) {
  const v = await client.get(`/watcher/${cluster}/admin`).string();
  try {
    return v ? JSON.parse(v).id : null;
  } catch {
    return null;
  }
}

/** `watcher run --etcd` as a child process. */
export async function spawnWorker({
  id,
  etcd,
  cluster,
  endpointsDir,
  leaseTtl,
  threads = 1,
  env = {},
  extra = [],
  logLevel = 'warn',
  logFile = null,
}) {
  const port = await freePort();
  const args = [
    CLI,
    'run',
    ...['--etcd', etcd, '--cluster', cluster, '--id', id, '--endpoints-dir', endpointsDir],
    ...['--listen', `127.0.0.1:${port}`, '--lease-ttl', String(leaseTtl), '--threads', String(threads)],
    ...['--log-level', logLevel, ...extra],
  ];
  const p = spawn(process.execPath, args, {
    stdio: ['ignore', logFile ? 'pipe' : 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  children.add(p);
  let err = '';
  const log = logFile ? createWriteStream(logFile) : null;
  p.stderr.on('data', (d) => {
    err = (err + d).slice(-4000);
    log?.write(d);
  });
  p.stdout?.on('data', (d) => log?.write(d));
  const base = `http://127.0.0.1:${port}`;
  return {
    id,
    pid: p.pid,
    base,
    log: () => err,
    async ready(timeoutMs = 60_000) {
      return waitFor(
        async () => {
          if (p.exitCode !== null) throw new Error(`${id} exited ${p.exitCode}: ${err}`);
          try {
            const r = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(1000) });
            await r.arrayBuffer();
            return r.status === 200;
          } catch {
            return false;
          }
        },
        timeoutMs,
        `${id} ready`,
      );
    },
    async metric(name) {
      const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
      const out = {};
      for (const line of text.split('\n')) {
        if (!line.startsWith(name)) continue;
        const rest = line.slice(name.length);
        if (rest[0] !== '{' && rest[0] !== ' ') continue;
        out[rest.startsWith('{') ? rest.slice(0, rest.indexOf('}') + 1) : ''] = Number(
          line.slice(line.lastIndexOf(' ') + 1),
        );
      }
      return out;
    },
    kill9() {
      p.kill('SIGKILL');
      children.delete(p);
      return new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', r)));
    },
    async stop() {
      if (p.exitCode !== null || p.signalCode !== null) return;
      p.kill('SIGTERM');
      await Promise.race([
        new Promise((r) => p.once('exit', r)),
        sleep(15_000).then(() => p.kill('SIGKILL')),
      ]);
      children.delete(p);
    },
  };
}

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return null;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
