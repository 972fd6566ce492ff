/**
 * The TCP proxy on a plain echo server: byte-transparent when open; 'drop' holds bytes without
 * losing them and holds new connections; 'refuse' resets and refuses; heal restores both.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProxies, startProxy, type TcpProxy } from '../support/proxy.js';
import { waitFor } from '../support/wait.js';

let server: Server;
let serverPort: number;
/** Everything the server received, per connection, in order. */
const received: string[][] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  server = createServer((s) => {
    const idx = received.push([]) - 1;
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      received[idx]!.push(d);
      s.write(d.toUpperCase());
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  serverPort = (server.address() as { port: number }).port;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

interface Conn {
  sock: Socket;
  data: string[];
  error: Error | undefined;
  closed: boolean;
}

function open(port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const c: Conn = { sock: connect(port, '127.0.0.1'), data: [], error: undefined, closed: false };
    sockets.push(c.sock);
    c.sock.setEncoding('utf8');
    c.sock.on('data', (d: string) => c.data.push(d));
    c.sock.on('close', () => {
      c.closed = true;
    });
    c.sock.once('connect', () => resolve(c));
    c.sock.on('error', (e) => {
      c.error = e;
      reject(e);
    });
  });
}

const text = (c: Conn): string => c.data.join('');
const serverSaw = (): string => received.flat().join('');

describe('tcp proxy', () => {
  let proxy: TcpProxy;
  beforeAll(async () => {
    proxy = await startProxy({ host: '127.0.0.1', port: serverPort });
  });
  afterAll(async () => proxy.close());

  it('forwards bytes both ways', async () => {
    const c = await open(proxy.port);
    c.sock.write('hello');
    await waitFor(() => text(c) === 'HELLO', { timeoutMs: 2000, message: 'echo through proxy' });
    expect(proxy.connections()).toBe(1);
    c.sock.destroy();
    await waitFor(() => proxy.connections() === 0, { timeoutMs: 2000, message: 'pair torn down' });
  });

  it("'drop' forwards nothing, keeps the socket, loses nothing; heal delivers the held bytes", async () => {
    const c = await open(proxy.port);
    c.sock.write('a');
    await waitFor(() => text(c) === 'A', { timeoutMs: 2000, message: 'first echo' });

    await proxy.cut('drop');
    c.sock.write('held');
    // A marker sent directly to the server after 'held' arrives; 'held' must not have.
    const direct = await open(serverPort);
    direct.sock.write('marker');
    await waitFor(() => serverSaw().includes('marker'), { timeoutMs: 2000, message: 'direct marker' });
    expect(serverSaw()).not.toContain('held');
    expect(text(c)).toBe('A');
    expect(c.closed).toBe(false);

    // A new connection is accepted but not dialled upstream while dropping.
    const connsBefore = received.length;
    const late = await open(proxy.port);
    late.sock.write('late');
    direct.sock.write('marker2');
    await waitFor(() => serverSaw().includes('marker2'), { timeoutMs: 2000, message: 'direct marker 2' });
    expect(received.length).toBe(connsBefore);

    await proxy.heal();
    await waitFor(() => text(c) === 'AHELD', { timeoutMs: 2000, message: 'held bytes delivered after heal' });
    await waitFor(() => text(late) === 'LATE', {
      timeoutMs: 2000,
      message: 'held connection dialled after heal',
    });
    c.sock.destroy();
    late.sock.destroy();
    direct.sock.destroy();
  });

  it("'refuse' resets open connections and refuses new ones; heal listens again on the same port", async () => {
    const c = await open(proxy.port);
    c.sock.on('error', () => {});
    c.sock.write('x');
    await waitFor(() => text(c) === 'X', { timeoutMs: 2000, message: 'echo before refuse' });

    await proxy.cut('refuse');
    await waitFor(() => c.closed, { timeoutMs: 2000, message: 'open connection reset' });
    expect((c.error as NodeJS.ErrnoException | undefined)?.code).toBe('ECONNRESET');
    expect(proxy.connections()).toBe(0);
    const refused = await open(proxy.port).then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e.code,
    );
    expect(refused).toBe('ECONNREFUSED');

    await proxy.heal();
    const again = await open(proxy.port);
    again.sock.write('y');
    await waitFor(() => text(again) === 'Y', { timeoutMs: 2000, message: 'echo after heal' });
    again.sock.destroy();
  });
});

describe('proxy group', () => {
  it('keeps the scheme, cuts a subset and heals it', async () => {
    const group = await startProxies([`https://127.0.0.1:${serverPort}`, `http://127.0.0.1:${serverPort}`]);
    try {
      expect(group.urls[0]).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(group.urls[1]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      await group.cut('refuse', [1]);
      expect(group.proxies.map((p) => p.mode())).toEqual(['open', 'refuse']);
      await group.heal();
      expect(group.proxies.map((p) => p.mode())).toEqual(['open', 'open']);
      const c = await open(group.proxies[1]!.port);
      c.sock.write('z');
      await waitFor(() => text(c) === 'Z', { timeoutMs: 2000, message: 'echo via group member' });
      c.sock.destroy();
    } finally {
      await group.close();
    }
  });
});
