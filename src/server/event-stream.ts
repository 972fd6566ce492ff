import type { ServerResponse } from 'node:http';

export type StreamEventType = 'result' | 'state' | 'ownership' | 'config' | 'cluster' | 'overload' | 'worker';

/**
 * Fan-out of live events to Server-Sent-Events clients. A slow client never slows the engine:
 * when its socket buffer is full, events for it are dropped (and it is told, once).
 */
export class EventStream {
  private clients = new Set<{ res: ServerResponse; dropped: number }>();
  private seq = 0;

  get size(): number {
    return this.clients.size;
  }

  attach(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': watcher event stream\nretry: 2000\n\n');
    const client = { res, dropped: 0 };
    this.clients.add(client);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    ping.unref();
    res.on('close', () => {
      clearInterval(ping);
      this.clients.delete(client);
    });
  }

  publish(type: StreamEventType, data: unknown): void {
    if (this.clients.size === 0) return;
    const frame = `id: ${++this.seq}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of this.clients) {
      if (c.res.writableNeedDrain) {
        c.dropped++;
        continue;
      }
      if (c.dropped > 0) {
        c.res.write(`event: dropped\ndata: ${JSON.stringify({ count: c.dropped })}\n\n`);
        c.dropped = 0;
      }
      c.res.write(frame);
    }
  }

  close(): void {
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }
}
