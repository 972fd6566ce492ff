import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { HealthIdentity } from '../cluster/coordinator.js';
import type { Logger } from '../model/logger.js';
import { Access, loginPage } from './access.js';
import { DASHBOARD_HTML } from './dashboard.js';
import type { EventStream } from './event-stream.js';
import type { PeerStreams } from './peer-streams.js';
import type { Scope } from './status-doc.js';

export interface ServerDeps {
  host: string;
  port: number;
  /** when set, /api/* and / require `Authorization: Bearer <token>` or the login form's cookie */
  token: string | null;
  registry: Registry;
  ready(): { ready: boolean; reasons: string[] };
  /** the status document of this worker (local) or of the whole cluster */
  status(scope: Scope): unknown | Promise<unknown>;
  /** `local`: this worker's events (what peers relay); `cluster`: local + relayed peers' */
  events: { local: EventStream; cluster: EventStream };
  /** a client attached to the cluster stream */
  onClusterListener?(): void;
  /** applied to every JSON answer (secret redaction) */
  redact?(text: string): string;
  /**
   * Who answers `/healthz` (cluster: worker id, start time, lease), so a peer can tell this
   * process from a restart or another process on the same port; null until known.
   */
  identity?(): HealthIdentity | null;
  /** where `/healthz?watch=1` streams are kept and fed the dispatch horizon (cluster mode) */
  peerStreams?: PeerStreams;
  logger: Logger;
  /** the endpoint-file JSON Schema served at SCHEMA_PATH (text as published) */
  schema?: string;
}

/** Where the worker serves its endpoint-file JSON Schema (open, like /metrics); the schema's `$id`. */
export const SCHEMA_PATH = '/schema/endpoints.schema.json';

export interface StatusServer {
  /** host:port actually bound (port 0 resolved) */
  address: string;
  port: number;
  close(): Promise<void>;
}

const LOGIN_BODY_LIMIT = 4096;

function send(
  res: ServerResponse,
  code: number,
  body: string,
  type = 'application/json; charset=utf-8',
  headers: Record<string, string> = {},
): void {
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(body);
}

function scopeOf(url: URL): Scope | null {
  const s = url.searchParams.get('scope') ?? 'cluster';
  return s === 'local' || s === 'cluster' ? s : null;
}

function wantsHtml(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').includes('text/html');
}

function readForm(req: IncomingMessage): Promise<URLSearchParams | null> {
  return new Promise((resolve) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
      if (body.length > LOGIN_BODY_LIMIT) {
        resolve(null);
        req.destroy();
      }
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', () => resolve(null));
  });
}

/** Health, readiness, Prometheus metrics, JSON status, SSE events, login and the dashboard. */
export async function startStatusServer(deps: ServerDeps): Promise<StatusServer> {
  const access = new Access(deps.token);
  const redact = deps.redact ?? ((t: string) => t);
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'POST' && url.pathname === '/login') {
      const form = await readForm(req);
      const cookie = form ? access.login(form.get('token') ?? '') : null;
      if (cookie) send(res, 303, '', 'text/plain', { location: '/', 'set-cookie': cookie });
      else send(res, 401, loginPage(true), 'text/html; charset=utf-8');
      return;
    }
    if (req.method === 'POST' && url.pathname === '/logout') {
      send(res, 303, '', 'text/plain', { location: '/login', 'set-cookie': access.logoutCookie() });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, JSON.stringify({ error: 'method not allowed' }));
      return;
    }
    switch (url.pathname) {
      case '/healthz': {
        const body = JSON.stringify({ status: 'ok', ...deps.identity?.() });
        if (url.searchParams.get('watch') === '1') {
          // held open for a peer: its kernel-side close is how the peer sees this process die.
          // Not chunked (ended by the close): a chunked write is corked until the next tick,
          // and the dispatch horizon must be in the kernel before the slots are handed on.
          res.useChunkedEncodingByDefault = false;
          res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
          res.write(`${body}\n`);
          deps.peerStreams?.add(res);
          return;
        }
        send(res, 200, body);
        return;
      }
      case '/readyz': {
        const r = deps.ready();
        send(
          res,
          r.ready ? 200 : 503,
          JSON.stringify({ status: r.ready ? 'ready' : 'not ready', reasons: r.reasons }),
        );
        return;
      }
      case '/metrics':
        deps.registry.metrics().then(
          (text) => send(res, 200, text, deps.registry.contentType),
          (err: unknown) => send(res, 500, `# metrics failed: ${(err as Error).message}\n`, 'text/plain'),
        );
        return;
      case SCHEMA_PATH:
        if (deps.schema === undefined) break;
        res.writeHead(200, {
          'content-type': 'application/schema+json',
          'cache-control': 'max-age=300',
          'access-control-allow-origin': '*',
        });
        res.end(deps.schema);
        return;
      case '/login':
        if (access.allows(req)) send(res, 303, '', 'text/plain', { location: '/' });
        else send(res, 200, loginPage(false), 'text/html; charset=utf-8');
        return;
    }
    if (!access.allows(req)) {
      if (wantsHtml(req) && (url.pathname === '/' || url.pathname === '/index.html')) {
        send(res, 401, loginPage(false), 'text/html; charset=utf-8');
        return;
      }
      send(res, 401, JSON.stringify({ error: 'unauthorized' }), undefined, { 'www-authenticate': 'Bearer' });
      return;
    }
    switch (url.pathname) {
      case '/':
      case '/index.html':
        send(res, 200, DASHBOARD_HTML, 'text/html; charset=utf-8', {
          'content-security-policy':
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'self'",
        });
        return;
      case '/api/v1/status': {
        const scope = scopeOf(url);
        if (!scope) {
          send(res, 400, JSON.stringify({ error: 'scope must be local or cluster', code: 'API_BAD_SCOPE' }));
          return;
        }
        const doc = await deps.status(scope);
        send(res, 200, redact(JSON.stringify(doc)));
        return;
      }
      case '/api/v1/events': {
        const scope = scopeOf(url);
        if (!scope) {
          send(res, 400, JSON.stringify({ error: 'scope must be local or cluster', code: 'API_BAD_SCOPE' }));
          return;
        }
        deps.events[scope].attach(res, req.headers['last-event-id'] as string | undefined);
        if (scope === 'cluster') deps.onClusterListener?.();
        return;
      }
      default:
        send(res, 404, JSON.stringify({ error: 'not found' }));
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      deps.logger.error({ err: (err as Error).message, path: req.url }, 'status server request failed');
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: 'internal error' }));
      else res.end();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.port, deps.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  deps.logger.info({ address: `${addr.address}:${addr.port}` }, 'status server listening');
  return {
    address: `${deps.host}:${addr.port}`,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        deps.events.local.close();
        deps.events.cluster.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
