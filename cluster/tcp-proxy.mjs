#!/usr/bin/env node
/**
 * Fault-injection TCP proxy for the local cluster scripts (one process per worker, one listener per
 * etcd member). Byte-transparent: carries gRPC/HTTP2 and TLS.
 *
 *   node cluster/tcp-proxy.mjs --target 127.0.0.1:23791 [--target HOST:PORT ...]
 *        [--ports-file FILE] [--control FILE]
 *
 * Listens on 127.0.0.1, one OS-chosen port per target, and writes the ports, comma-separated in
 * target order, to --ports-file once all are listening.
 *
 * Modes:
 *   open    forward everything
 *   drop    blackhole: forward nothing, keep sockets open, hold new connections (partition)
 *   refuse  reset existing connections and refuse new ones (listener closed → ECONNREFUSED)
 * Control:
 *   SIGUSR1 → drop      SIGUSR2 → open (heal)
 *   SIGHUP  → read the mode (open|drop|refuse) from --control FILE
 *   SIGTERM/SIGINT → close everything and exit 0
 * The current mode is written back to --control FILE after every change. Logs are JSON lines on
 * stdout.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

const args = process.argv.slice(2);
const targets = [];
let portsFile;
let controlFile;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const v = args[i + 1];
  if (a === '--target' && v) {
    const m = /^(.+):(\d+)$/.exec(v);
    if (!m) usage(`bad --target ${v}`);
    targets.push({ host: m[1], port: Number(m[2]) });
    i++;
  } else if (a === '--ports-file' && v) {
    portsFile = v;
    i++;
  } else if (a === '--control' && v) {
    controlFile = v;
    i++;
  } else {
    usage(`unknown argument ${a}`);
  }
}
if (targets.length === 0) usage('at least one --target is required');

function usage(msg) {
  process.stderr.write(
    `tcp-proxy: ${msg}\nusage: tcp-proxy.mjs --target HOST:PORT [...] [--ports-file F] [--control F]\n`,
  );
  process.exit(2);
}

function log(msg, extra = {}) {
  process.stdout.write(`${JSON.stringify({ time: Date.now(), pid: process.pid, msg, ...extra })}\n`);
}

let mode = 'open';
const links = [];

function makeLink(target) {
  const pairs = new Set();
  const link = { target, port: 0, server: undefined, pairs };

  const teardown = (pair) => {
    if (!pairs.delete(pair)) return;
    pair.client.destroy();
    pair.upstream?.destroy();
  };
  const forward = (from, to) => {
    from.on('data', (chunk) => {
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (mode === 'open') from.resume();
    });
    from.on('end', () => to.end());
  };
  link.connectUpstream = (pair) => {
    const up = connect({ host: target.host, port: target.port });
    up.setNoDelay(true);
    pair.upstream = up;
    up.on('error', () => teardown(pair));
    up.on('close', () => teardown(pair));
    forward(pair.client, up);
    forward(up, pair.client);
  };
  const onConnection = (client) => {
    client.setNoDelay(true);
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const pair = { client, upstream: undefined };
    pairs.add(pair);
    client.on('error', () => teardown(pair));
    client.on('close', () => teardown(pair));
    if (mode === 'open') link.connectUpstream(pair);
  };
  link.listen = (port) =>
    new Promise((resolve, reject) => {
      const server = createServer({ noDelay: true }, onConnection);
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        link.server = server;
        link.port = server.address().port;
        resolve();
      });
    });
  link.unlisten = () => {
    const s = link.server;
    link.server = undefined;
    if (s) s.close();
  };
  return link;
}

async function setMode(next, why) {
  if (!['open', 'drop', 'refuse'].includes(next)) {
    log('ignored unknown mode', { mode: next });
    return;
  }
  const prev = mode;
  if (next === prev) return;
  mode = next;
  for (const link of links) {
    if (next === 'refuse') {
      link.unlisten();
      for (const p of [...link.pairs]) {
        link.pairs.delete(p);
        p.client.resetAndDestroy();
        p.upstream?.resetAndDestroy();
      }
      continue;
    }
    if (!link.server) {
      try {
        await link.listen(link.port);
      } catch (err) {
        log('re-listen failed', { port: link.port, error: String(err) });
      }
    }
    for (const p of link.pairs) {
      if (next === 'drop') {
        p.client.pause();
        p.upstream?.pause();
      } else if (!p.upstream) {
        link.connectUpstream(p);
      } else {
        p.client.resume();
        p.upstream.resume();
      }
    }
  }
  writeControl();
  log('mode', { from: prev, mode, why });
}

function writeControl() {
  if (!controlFile) return;
  try {
    writeFileSync(controlFile, `${mode}\n`);
  } catch (err) {
    log('cannot write control file', { error: String(err) });
  }
}

for (const t of targets) {
  const link = makeLink(t);
  await link.listen(0);
  links.push(link);
}
if (portsFile) {
  writeFileSync(`${portsFile}.tmp`, `${links.map((l) => l.port).join(',')}\n`);
  renameSync(`${portsFile}.tmp`, portsFile);
}
writeControl();
log('listening', {
  links: links.map((l) => ({ port: l.port, target: `${l.target.host}:${l.target.port}` })),
});

// With every listener closed ('refuse') and no sockets left, nothing else would keep Node running.
const keepAlive = setInterval(() => {}, 1 << 30);

process.on('SIGUSR1', () => void setMode('drop', 'SIGUSR1'));
process.on('SIGUSR2', () => void setMode('open', 'SIGUSR2'));
process.on('SIGHUP', () => {
  if (!controlFile) return log('SIGHUP without --control: ignored');
  let next;
  try {
    next = readFileSync(controlFile, 'utf8').trim();
  } catch (err) {
    return log('cannot read control file', { error: String(err) });
  }
  void setMode(next, 'SIGHUP');
});
const shutdown = (sig) => {
  log('exit', { signal: sig });
  clearInterval(keepAlive);
  for (const link of links) {
    link.unlisten();
    for (const p of link.pairs) {
      p.client.destroy();
      p.upstream?.destroy();
    }
  }
  process.exit(0);
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
