/**
 * In-process TCP proxy on 127.0.0.1 for injecting network faults between a client and a server.
 * Byte-transparent, so it carries gRPC/HTTP2 and TLS unchanged.
 *
 * - cut('drop'): blackhole / partition. Nothing is forwarded in either direction, but every socket
 *   stays open and new connections are accepted and held. Bytes are not discarded: reading stops
 *   and TCP flow control holds them, as the kernel would retransmit them after a real partition, so
 *   after heal() a connection that both ends kept resumes intact.
 * - cut('refuse'): existing connections are reset (RST) and new ones refused (listener closed →
 *   ECONNREFUSED).
 * - heal(): forwarding resumes; after 'refuse' the same port listens again.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export type CutMode = 'drop' | 'refuse';

export interface TcpProxy {
  readonly port: number;
  /** http://127.0.0.1:<port> (use `startProxies` to keep another scheme). */
  readonly url: string;
  readonly target: { host: string; port: number };
  mode(): 'open' | CutMode;
  cut(mode: CutMode): Promise<void>;
  heal(): Promise<void>;
  /** Open client connections (accepted and not yet closed). */
  connections(): number;
  /** Connections accepted since start. */
  accepted(): number;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
}

export async function startProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'open' | CutMode = 'open';
  let closed = false;
  let acceptedCount = 0;
  const pairs = new Set<Pair>();

  const teardown = (pair: Pair): void => {
    if (!pairs.delete(pair)) return;
    pair.client.destroy();
    pair.upstream?.destroy();
  };

  const forward = (from: Socket, to: Socket): void => {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (mode === 'open') from.resume();
    });
    from.on('end', () => to.end());
  };

  const connectUpstream = (pair: Pair): void => {
    const up = connect({ host: target.host, port: target.port });
    up.setNoDelay(true);
    pair.upstream = up;
    up.on('error', () => teardown(pair));
    up.on('close', () => teardown(pair));
    forward(pair.client, up);
    forward(up, pair.client);
  };

  const onConnection = (client: Socket): void => {
    acceptedCount++;
    client.setNoDelay(true);
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const pair: Pair = { client, upstream: undefined };
    pairs.add(pair);
    client.on('error', () => teardown(pair));
    client.on('close', () => teardown(pair));
    // While dropping, hold the connection without dialing upstream (like SYNs into a blackhole
    // that the kernel happened to accept); it is connected on heal().
    if (mode === 'open') connectUpstream(pair);
  };

  let server: Server = createServer({ noDelay: true }, onConnection);
  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        const addr = server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  const stopListening = (): Promise<void> =>
    new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });

  const port = await listen(0);

  const proxy: TcpProxy = {
    port,
    url: `http://127.0.0.1:${port}`,
    target: { ...target },
    mode: () => mode,
    connections: () => pairs.size,
    accepted: () => acceptedCount,
    async cut(next) {
      if (closed) throw new Error('proxy closed');
      if (next === 'drop') {
        if (mode === 'refuse') await relisten();
        mode = 'drop';
        for (const p of pairs) {
          p.client.pause();
          p.upstream?.pause();
        }
        return;
      }
      mode = 'refuse';
      // server.close() completes only once every accepted socket is gone: reset them first.
      const stopped = stopListening();
      for (const p of [...pairs]) {
        pairs.delete(p);
        p.client.resetAndDestroy();
        p.upstream?.resetAndDestroy();
      }
      await stopped;
    },
    async heal() {
      if (closed) throw new Error('proxy closed');
      if (mode === 'refuse') await relisten();
      mode = 'open';
      for (const p of pairs) {
        if (!p.upstream) {
          connectUpstream(p);
        } else {
          p.client.resume();
          p.upstream.resume();
        }
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      const stopped = stopListening();
      for (const p of [...pairs]) teardown(p);
      await stopped;
    },
  };

  async function relisten(): Promise<void> {
    server = createServer({ noDelay: true }, onConnection);
    const got = await listen(port);
    if (got !== port) throw new Error(`proxy could not listen again on ${port}`);
  }

  return proxy;
}

export interface ProxyGroup {
  /** The proxied URLs, same scheme as the targets, in the same order. */
  readonly urls: string[];
  readonly proxies: TcpProxy[];
  /** Cuts every proxy, or only those at `indexes`. */
  cut(mode: CutMode, indexes?: number[]): Promise<void>;
  heal(indexes?: number[]): Promise<void>;
  connections(): number;
  close(): Promise<void>;
}

/** One proxy per URL (e.g. one per etcd member); a worker given `urls` goes through all of them. */
export async function startProxies(urls: string[]): Promise<ProxyGroup> {
  const proxies: TcpProxy[] = [];
  try {
    for (const raw of urls) {
      const u = new URL(raw);
      const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
      proxies.push(await startProxy({ host: u.hostname, port }));
    }
  } catch (err) {
    await Promise.all(proxies.map((p) => p.close()));
    throw err;
  }
  const pick = (indexes?: number[]): TcpProxy[] =>
    indexes ? indexes.map((i) => proxies[i] ?? failIndex(i)) : proxies;
  return {
    urls: urls.map((raw, i) => `${new URL(raw).protocol}//127.0.0.1:${proxies[i]!.port}`),
    proxies,
    cut: async (mode, indexes) => {
      await Promise.all(pick(indexes).map((p) => p.cut(mode)));
    },
    heal: async (indexes) => {
      await Promise.all(pick(indexes).map((p) => p.heal()));
    },
    connections: () => proxies.reduce((n, p) => n + p.connections(), 0),
    close: async () => {
      await Promise.all(proxies.map((p) => p.close()));
    },
  };
}

function failIndex(i: number): never {
  throw new Error(`no proxy at index ${i}`);
}
