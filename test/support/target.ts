/**
 * A local HTTP(S) fault target for tests: answers, stalls, resets, floods and loops on demand.
 * Listens on 127.0.0.1, port chosen by the OS. TLS mode serves a throw-away self-signed
 * certificate (CN=localhost, SAN IP:127.0.0.1) made with the openssl CLI.
 *
 * Routes:
 *   /ok               200 {"status":"ok","db":{"latency_ms":12}}
 *   /degraded         200 {"status":"degraded"}
 *   /slow?ms=N        200 /ok's body after N ms (default 1000)
 *   /hang             never answers (the socket stays open until close())
 *   /reset            destroys the socket without an answer
 *   /big              200, 5 MB of JSON-ish bytes
 *   /badjson          200, content-type json, body that is not JSON
 *   /loop             302 to itself
 *   /redirect         302 to /ok
 *   /status/N         status N with a small JSON body
 *   /count/<anything> 200 "ok", hits counted per path (hits('/count/x'))
 *   anything else     404
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TargetOptions {
  tls?: boolean;
  /** most requests kept in `hitLog` [100,000] */
  hitLogLimit?: number;
}

export interface Target {
  /** base URL without a trailing slash: `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** requests seen for that path (no query), or in total without a path */
  hits(path?: string): number;
  /** every request: path, arrival time, and the slot it serves (`x-watcher-scheduled-at`, null if absent) */
  hitLog: Array<{ path: string; at: number; slot: number | null }>;
  /** TCP (or TLS) connections accepted so far */
  connections(): number;
  /** PEM of the self-signed certificate (TLS mode only) */
  cert: string | null;
  close(): Promise<void>;
}

export const OK_BODY = JSON.stringify({ status: 'ok', db: { latency_ms: 12 } });
export const BIG_BYTES = 5 * 1024 * 1024;
const HIT_LOG_LIMIT = 100_000;

let certPromise: Promise<{ cert: string; key: string }> | null = null;

/** One self-signed certificate per test process (openssl is slow on a shared machine). */
function selfSignedCert(): Promise<{ cert: string; key: string }> {
  certPromise ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'watcher-target-'));
    try {
      const keyPath = join(dir, 'key.pem');
      const certPath = join(dir, 'cert.pem');
      await run(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-subj',
          '/CN=localhost',
          '-addext',
          'subjectAltName=IP:127.0.0.1,DNS:localhost',
          '-days',
          '2',
          '-keyout',
          keyPath,
          '-out',
          certPath,
        ],
        { timeout: 20_000 },
      );
      return { cert: await readFile(certPath, 'utf8'), key: await readFile(keyPath, 'utf8') };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return certPromise;
}

export async function startTarget(opts: TargetOptions = {}): Promise<Target> {
  const hitsByPath = new Map<string, number>();
  const hitLog: Array<{ path: string; at: number; slot: number | null }> = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let total = 0;
  let connections = 0;

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    total++;
    hitsByPath.set(path, (hitsByPath.get(path) ?? 0) + 1);
    if (hitLog.length < (opts.hitLogLimit ?? HIT_LOG_LIMIT)) {
      const slot = req.headers['x-watcher-scheduled-at'];
      hitLog.push({ path, at: Date.now(), slot: typeof slot === 'string' ? Number(slot) : null });
    }
    // Drain any request body so keep-alive connections stay usable.
    req.resume();
    route(path, q < 0 ? '' : raw.slice(q + 1), req, res);
  };

  const route = (path: string, query: string, req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (path === '/ok') {
      json(res, 200, OK_BODY);
      return;
    }
    if (path === '/degraded') {
      json(res, 200, '{"status":"degraded"}');
      return;
    }
    if (path === '/slow') {
      const ms = Number(new URLSearchParams(query).get('ms') ?? 1000);
      const t = setTimeout(() => {
        timers.delete(t);
        json(res, 200, OK_BODY);
      }, ms);
      timers.add(t);
      return;
    }
    if (path === '/hang' || path.startsWith('/hang/')) return;
    if (path === '/reset') {
      req.socket.destroy();
      return;
    }
    if (path === '/big') {
      big(res);
      return;
    }
    if (path === '/badjson') {
      json(res, 200, '{"status": ok, this is not json');
      return;
    }
    if (path === '/loop') {
      redirect(res, '/loop');
      return;
    }
    if (path === '/redirect') {
      redirect(res, '/ok');
      return;
    }
    const status = /^\/status\/(\d{3})$/.exec(path);
    if (status) {
      json(res, Number(status[1]), `{"status":"code ${status[1]}"}`);
      return;
    }
    if (path.startsWith('/count/')) {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
      return;
    }
    json(res, 404, '{"status":"not found"}');
  };

  const pem = opts.tls ? await selfSignedCert() : null;
  const server: http.Server = pem
    ? https.createServer({ cert: pem.cert, key: pem.key }, handler)
    : http.createServer(handler);
  server.keepAliveTimeout = 10_000;
  server.on(pem ? 'secureConnection' : 'connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // A TLS handshake that fails (client rejects the certificate) is an expected event here.
  server.on('tlsClientError', () => {});
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `${pem ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    hits: (path?: string) => (path === undefined ? total : (hitsByPath.get(path) ?? 0)),
    hitLog,
    connections: () => connections,
    cert: pem?.cert ?? null,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      server.closeAllConnections?.();
      await closed;
    },
  };
}

function json(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function redirect(res: http.ServerResponse, location: string): void {
  res.writeHead(302, { location, 'content-length': '0' });
  res.end();
}

const BIG_CHUNK = Buffer.alloc(64 * 1024, 'x');

/** 5 MB streamed without content-length (chunked), so the reader must count bytes itself. */
function big(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  let sent = 0;
  const write = (): void => {
    while (sent < BIG_BYTES) {
      sent += BIG_CHUNK.length;
      if (!res.write(BIG_CHUNK)) {
        res.once('drain', write);
        return;
      }
    }
    res.end();
  };
  res.on('close', () => {
    sent = BIG_BYTES;
  });
  write();
}
