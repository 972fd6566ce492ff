/**
 * Every admin write, fenced by the admin key's create revision (the token): a txn that finds
 * another admin stops the duties and tells the role (`onFenced`). Remembers the highest revision
 * written, so decisions wait until the mirror has seen this admin's own writes (through the
 * watch's events: see watch.ts on why a progress answer does not count).
 */

import type { AdminContext } from './admin-context.js';
import { cmp, type Op, op, txnChanged } from './client.js';
import { chunkOps } from './jobset-writes.js';

export class AdminWriter {
  /** set by stop() or by a fenced write: nothing more is written */
  stopped = false;
  /** highest revision this admin wrote */
  private lastWriteRev = 0;

  constructor(private readonly c: AdminContext) {}

  /** True while the mirror has not yet seen this admin's last write (decide later). */
  behind(): boolean {
    return this.c.mirror.rev < this.lastWriteRev;
  }

  /** Writes ops in fenced transactions; false when the fence failed (we are no longer admin). */
  async write(ops: Op[]): Promise<boolean> {
    for (const chunk of chunkOps(ops)) {
      if (this.stopped) return false;
      const r = await this.c.rpc.txn([cmp.create(this.c.keys.admin, this.c.token)], chunk);
      if (!r.succeeded) {
        this.c.logger.warn({}, 'admin write fenced off: another worker is admin now');
        this.fenced();
        return false;
      }
      // deletes of keys already gone change nothing: waiting for the mirror to reach the store's
      // revision could then wait for a write in another cluster's prefix
      if (txnChanged(chunk, r)) this.noteWrite(r.rev);
    }
    return true;
  }

  /**
   * Writes the move of `jsid` if the admin key, the owner key (at `ownerRev`) and the absence of a
   * move all still hold. 'written', 'lost' (the owner or a move changed), or 'fenced' (not admin).
   */
  async putMove(jsid: string, ownerRev: number, value: string): Promise<'written' | 'lost' | 'fenced'> {
    const { keys } = this.c;
    const r = await this.c.rpc.txn(
      [
        cmp.create(keys.admin, this.c.token),
        cmp.mod(keys.owner(jsid), ownerRev),
        cmp.create(keys.move(jsid), 0),
      ],
      [op.put(keys.move(jsid), value)],
      [op.get(keys.admin)],
    );
    if (r.succeeded) {
      this.noteWrite(r.rev);
      return 'written';
    }
    const adminKv = r.responses[0]?.response_range?.kvs?.[0];
    if (!adminKv || Number(adminKv.create_revision) !== this.c.token) {
      this.fenced();
      return 'fenced';
    }
    return 'lost';
  }

  private noteWrite(rev: number): void {
    this.lastWriteRev = Math.max(this.lastWriteRev, rev);
  }

  private fenced(): void {
    this.stopped = true;
    this.c.onFenced();
  }
}
