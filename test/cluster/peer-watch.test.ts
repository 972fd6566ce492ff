/**
 * PeerWatch against real sockets on 127.0.0.1 (the status server's `/healthz?watch=1`): a
 * verified stream that drops with the port then refusing is a death dated by the drop; another
 * identity on the port, a silent listener, or a port that was never verified is not.
 */
import { EventEmitter } from 'node:events';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { HealthIdentity } from '../../src/cluster/coordinator.js';
import { type PeerDeath, PeerWatch, ringSuccessors } from '../../src/cluster/etcd/peer-watch.js';
import { systemClock } from '../../src/model/clock.js';
import { silentLogger } from '../../src/model/logger.js';
import { createEventStreams } from '../../src/server/event-stream.js';
import { PeerStreams } from '../../src/server/peer-streams.js';
import { type StatusServer, startStatusServer } from '../../src/server/status-server.js';
import { freePort } from '../support/processes.js';
import { waitFor } from '../support/wait.js';

const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function peerServer(
  port: number,
  identity: HealthIdentity,
  peerStreams?: PeerStreams,
): Promise<StatusServer> {
  const s = await startStatusServer({
    host: '127.0.0.1',
    port,
    token: 'secret',
    registry: new Registry(),
    ready: () => ({ ready: true, reasons: [] }),
    status: () => ({}),
    events: createEventStreams({ selfId: identity.id }),
    identity: () => identity,
    peerStreams,
    logger: silentLogger,
  });
  closers.push(() => s.close());
  return s;
}

function watcher(deaths: PeerDeath[]): PeerWatch {
  const w = new PeerWatch({
    self: 'a',
    onDeath: (d) => deaths.push(d),
    clock: systemClock,
    logger: silentLogger,
  });
  closers.push(() => w.stop());
  return w;
}

const ID: HealthIdentity = { id: 'b', started_at: 1000, lease_id: '42' };
const target = (port: number, id = ID) => ({
  id: id.id,
  leaseId: id.lease_id,
  startedAt: id.started_at,
  address: `127.0.0.1:${port}`,
});

describe('peer watch', () => {
  it('ring: each worker watches its next successors, wrapping around', () => {
    const live = ['c', 'a', 'd', 'b'].map((id) => ({ id }));
    expect(ringSuccessors('b', live, 2).map((w) => w.id)).toEqual(['c', 'd']);
    expect(ringSuccessors('d', live, 2).map((w) => w.id)).toEqual(['a', 'b']);
    expect(ringSuccessors('a', [{ id: 'a' }, { id: 'b' }], 2).map((w) => w.id)).toEqual(['b']);
    expect(ringSuccessors('a', [{ id: 'a' }], 2)).toEqual([]);
  });

  it('/healthz answers the identity, open without the token', async () => {
    const port = await freePort();
    await peerServer(port, ID);
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', ...ID });
  });

  it('a verified stream that drops, then refused twice: death dated by the drop', async () => {
    const port = await freePort();
    const s = await peerServer(port, ID);
    const deaths: PeerDeath[] = [];
    const w = watcher(deaths);
    w.update([target(port)]);
    expect(w.watching()).toEqual(['b']);
    // let the stream open and verify (the server counts it as a connection)
    await new Promise((r) => setTimeout(r, 300));
    const before = Date.now();
    await s.close();
    const after = Date.now();
    await waitFor(() => deaths.length === 1, { timeoutMs: 2000, intervalMs: 10, message: 'death reported' });
    const d = deaths[0]!;
    expect(d.id).toBe('b');
    expect(d.leaseId).toBe('42');
    expect(d.deadBy).toBeGreaterThanOrEqual(before);
    expect(d.deadBy).toBeLessThanOrEqual(after + 50);
  });

  it('the stream carries the dispatch horizon: the next owners catch up just after the last one', async () => {
    const port = await freePort();
    const streams = new PeerStreams();
    streams.dispatching(1_000);
    const s = await peerServer(port, ID, streams);
    const deaths: PeerDeath[] = [];
    watcher(deaths).update([target(port)]);
    await waitFor(() => streams.size() === 1, { timeoutMs: 2000, intervalMs: 5, message: 'stream open' });
    // the identity line comes first on the stream: what follows is read after it, verified or not
    for (let h = 2_000; h <= 50_000; h += 1_000) streams.dispatching(h + 0.5);
    streams.dispatching(40_000); // an older horizon is never sent
    // every write went through to the kernel at once: the stream is still held
    expect(streams.size()).toBe(1);
    const before = Date.now();
    await s.close(); // as a kill: the kernel closes the socket after the data written
    await waitFor(() => deaths.length === 1, { timeoutMs: 2000, intervalMs: 10, message: 'death reported' });
    expect(deaths[0]!.catchUpFrom).toBe(50_001);
    expect(deaths[0]!.deadBy).toBeGreaterThanOrEqual(before);
  });

  it('the listener still accepts a moment after the stream dropped (descriptor order): the drop dates the death', async () => {
    const port = await freePort();
    const conns = new Set<Socket>();
    const fake: Server = createTcpServer((sock) => {
      conns.add(sock);
      sock.once('data', () => {
        sock.write(
          `HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\nconnection: close\r\n\r\n${JSON.stringify({ status: 'ok', ...ID })}\n{"h":7000}\n`,
        );
      });
    });
    await new Promise<void>((r) => fake.listen(port, '127.0.0.1', r));
    closers.push(() => new Promise((r) => fake.close(r)));
    const deaths: PeerDeath[] = [];
    watcher(deaths).update([target(port)]);
    await waitFor(() => conns.size === 1, { timeoutMs: 2000, intervalMs: 5, message: 'stream open' });
    await new Promise((r) => setTimeout(r, 50)); // the identity and the horizon are read
    const droppedAt = Date.now();
    for (const c of conns) c.destroy(); // the stream closes first ...
    await new Promise((r) => setTimeout(r, 60)); // ... the listener accepts for 60 ms more
    await new Promise((r) => fake.close(r));
    await waitFor(() => deaths.length === 1, { timeoutMs: 2000, intervalMs: 10, message: 'death reported' });
    expect(deaths[0]!.deadBy).toBeLessThan(droppedAt + 50);
    expect(deaths[0]!.catchUpFrom).toBe(7001);
  });

  it('without a horizon (nothing dispatched yet) the next owners catch up from the death', async () => {
    const port = await freePort();
    const streams = new PeerStreams();
    const s = await peerServer(port, ID, streams);
    const deaths: PeerDeath[] = [];
    watcher(deaths).update([target(port)]);
    await waitFor(() => streams.size() === 1, { timeoutMs: 2000, intervalMs: 5, message: 'stream open' });
    await s.close();
    await waitFor(() => deaths.length === 1, { timeoutMs: 2000, intervalMs: 10, message: 'death reported' });
    expect(deaths[0]!.catchUpFrom).toBe(deaths[0]!.deadBy);
  });

  it('a stream whose horizon did not go out at once is closed, never left behind', () => {
    const streams = new PeerStreams();
    const fake = (pending: number) => {
      const writes: string[] = [];
      const socket = {
        destroyed: false,
        writableLength: 0,
        write(line: string) {
          writes.push(line);
          socket.writableLength = pending;
          return pending === 0;
        },
      };
      const res = Object.assign(new EventEmitter(), {
        socket,
        writes,
        destroyed: false,
        destroy() {
          res.destroyed = true;
          socket.destroyed = true;
          res.emit('close');
        },
      });
      return res;
    };
    const ok = fake(0);
    const stuck = fake(12);
    streams.add(ok as never);
    streams.add(stuck as never);
    streams.dispatching(5);
    expect(ok.writes).toEqual(['{"h":5}\n']);
    expect(ok.destroyed).toBe(false);
    expect(stuck.destroyed).toBe(true);
    expect(streams.size()).toBe(1);
    streams.dispatching(6);
    expect(stuck.writes).toHaveLength(1);
  });

  it('another identity on the port (restart, reuse), then refusals: no death', async () => {
    const port = await freePort();
    const s = await peerServer(port, { ...ID, lease_id: '43' });
    const deaths: PeerDeath[] = [];
    watcher(deaths).update([target(port)]);
    await new Promise((r) => setTimeout(r, 400));
    await s.close();
    await new Promise((r) => setTimeout(r, 600));
    expect(deaths).toEqual([]);
  });

  it('a listener that never answers (a paused process), and a port never verified: no death', async () => {
    const silentPort = await freePort();
    const sockets = new Set<Socket>();
    const silent: Server = createTcpServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(silentPort, '127.0.0.1', r));
    closers.push(
      () =>
        new Promise((r) => {
          silent.close(r);
          for (const s of sockets) s.destroy();
        }),
    );
    const deadPort = await freePort();
    const deaths: PeerDeath[] = [];
    watcher(deaths).update([target(silentPort), target(deadPort, { ...ID, id: 'c' })]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(deaths).toEqual([]);
  });
});
