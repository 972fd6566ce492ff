import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../model/logger.js';
import { DASHBOARD_HTML } from './dashboard.js';
import type { EventStream } from './event-stream.js';

export interface ServerDeps {
  host: string;
  port: number;
  /** when set, /api/* and / require `Authorization: Bearer <token>` (or `?token=` for the browser's EventSource) */
  token: string | null;
  registry: Registry;
  ready(): { ready: boolean; reasons: string[] };
  status(): unknown;
  events: EventStream;
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

function send(
  res: ServerResponse,
  code: number,
  body: string,
  type = 'application/json; charset=utf-8',
): void {
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function authorized(req: IncomingMessage, url: URL, token: string | null): boolean {
  if (!token) return true;
  const header = req.headers.authorization ?? '';
  const given = header.startsWith('Bearer ') ? header.slice(7) : (url.searchParams.get('token') ?? '');
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Health, readiness, Prometheus metrics, JSON status, SSE events and the dashboard. */
export async function startStatusServer(deps: ServerDeps): Promise<StatusServer> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, JSON.stringify({ error: 'method not allowed' }));
      return;
    }
    switch (url.pathname) {
      case '/healthz':
        send(res, 200, JSON.stringify({ status: 'ok' }));
        return;
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
    }
    if (!authorized(req, url, deps.token)) {
      res.setHeader('www-authenticate', 'Bearer');
      send(res, 401, JSON.stringify({ error: 'unauthorized' }));
      return;
    }
    switch (url.pathname) {
      case '/':
      case '/index.html':
        send(res, 200, DASHBOARD_HTML, 'text/html; charset=utf-8');
        return;
      case '/api/v1/status':
        send(res, 200, JSON.stringify(deps.status()));
        return;
      case '/api/v1/events':
        deps.events.attach(res);
        return;
      default:
        send(res, 404, JSON.stringify({ error: 'not found' }));
    }
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
        deps.events.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
