/**
 * The server side of peer-observed death (docs/CLUSTER.md "Peer-observed death"): the open
 * `GET /healthz?watch=1` streams of the peers that watch this process. Before the engine hands on
 * a batch of slots it writes its dispatch horizon (`{"h":<ms>}`) to every stream, so a watcher
 * that sees the stream close with the process knows that no slot after the last horizon it read
 * was ever dispatched here, and the new owner catches those up: a slot due between the kill and
 * the moment the kernel closes the dead process's sockets is no longer lost.
 *
 * The horizon only counts once it is in the kernel: a killed process's socket buffers still reach
 * the peer (data before FIN), its userland buffers never do. A stream whose write did not go out
 * at once (the peer stopped reading) is closed, so a watcher never trusts a horizon that did not
 * leave; the peer reopens it when it reads again.
 */
import type { ServerResponse } from 'node:http';

export interface DispatchBeacon {
  /** called before the engine hands on every slot due up to `through` (epoch ms) */
  dispatching(through: number): void;
}

export class PeerStreams implements DispatchBeacon {
  private readonly open = new Set<ServerResponse>();
  private horizon = Number.NEGATIVE_INFINITY;

  /**
   * A watch stream whose headers and identity line were written: it gets every later horizon.
   * (Not the current one at once: the response's own writes are corked until the next tick.)
   */
  add(res: ServerResponse): void {
    this.open.add(res);
    res.once('close', () => this.open.delete(res));
  }

  dispatching(through: number): void {
    if (!(through > this.horizon)) return;
    this.horizon = through;
    if (this.open.size === 0) return;
    const line = `{"h":${through}}\n`;
    for (const res of this.open) this.send(res, line);
  }

  /** streams held open now (tests, diagnostics) */
  size(): number {
    return this.open.size;
  }

  /**
   * Straight to the socket: the stream is ended by the close, not chunked, so the bytes need no
   * framing, and a socket write goes to the kernel at once where `res.write` is corked a tick.
   */
  private send(res: ServerResponse, line: string): void {
    const socket = res.socket;
    if (!socket || socket.destroyed) {
      this.open.delete(res);
      return;
    }
    socket.write(line);
    // not in the kernel yet (the peer stopped reading): a kill now would lose it, so the peer
    // must not take an older horizon for the last one
    if (socket.writableLength > 0) {
      this.open.delete(res);
      res.destroy();
    }
  }
}
