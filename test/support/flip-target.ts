/** An HTTP target whose paths answer 200 until flipped to another status: `set('/a', 503)`. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FlipTarget {
  /** host:port */
  host: string;
  set(path: string, status: number): void;
  close(): Promise<void>;
}

export async function startFlipTarget(): Promise<FlipTarget> {
  const statuses = new Map<string, number>();
  const server = createServer((req, res) => {
    const status = statuses.get((req.url ?? '/').split('?')[0]!) ?? 200;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: status === 200 ? 'ok' : 'failing' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    set: (path, status) => statuses.set(path, status),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
