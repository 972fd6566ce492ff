/** A status server with stub sources on 127.0.0.1, and a tiny SSE reader, for the server tests. */
import { request } from 'node:http';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/model/logger.js';
import { parseSseFrame } from '../../src/server/event-relay.js';
import { createEventStreams, type EventStream } from '../../src/server/event-stream.js';
import { type StatusServer, startStatusServer } from '../../src/server/status-server.js';

export async function stubServer(
  opts: { token?: string | null; streams?: ReturnType<typeof createEventStreams> } = {},
): Promise<{
  server: StatusServer;
  streams: { local: EventStream; cluster: EventStream };
  base: string;
}> {
  const streams = opts.streams ?? createEventStreams({ selfId: 'self' });
  const server = await startStatusServer({
    host: '127.0.0.1',
    port: 0,
    token: opts.token ?? null,
    registry: new Registry(),
    ready: () => ({ ready: true, reasons: [] }),
    status: (scope) => ({ version: 2, scope, endpoints: [] }),
    events: streams,
    logger: silentLogger,
  });
  return { server, streams, base: `http://127.0.0.1:${server.port}` };
}

export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

/** Reads an SSE stream with node:http (so it can set Last-Event-ID and stop reading). */
export function openSse(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ events: SseEvent[]; status: number; close(): void; pause(): void; resume(): void }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      const events: SseEvent[] = [];
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let end = buf.indexOf('\n\n');
        while (end >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          end = buf.indexOf('\n\n');
          const { id, event, data } = parseSseFrame(block);
          if (data) events.push({ id, event, data });
        }
      });
      res.on('error', () => {});
      resolve({
        events,
        status: res.statusCode ?? 0,
        close: () => req.destroy(),
        pause: () => res.pause(),
        resume: () => res.resume(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}
