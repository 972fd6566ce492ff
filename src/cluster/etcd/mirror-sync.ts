/**
 * Keeps the Mirror in step with etcd: list the coordination keys at one revision, watch from the
 * next one, and re-list with backoff when the watch breaks. Every batch goes up as a `change`.
 */
import type { TimerHandle } from '../../model/clock.js';
import type { ClusterContext } from './context.js';
import { Emitter } from './context.js';
import { describeError } from './errors.js';
import { prefixEnd } from './keys.js';
import type { Mirror, MirrorChange } from './mirror.js';
import { RangeWatch } from './watch.js';

export interface MirrorSyncEvents {
  change: [change: MirrorChange];
}

export class MirrorSync {
  readonly events: Emitter<MirrorSyncEvents>;
  /** true once the first listing is in */
  listed = false;
  private watch: RangeWatch | null = null;
  private gen = 0;
  private timer: TimerHandle | null = null;
  private attempt = 0;

  constructor(
    private readonly ctx: ClusterContext,
    private readonly mirror: Mirror,
  ) {
    this.events = new Emitter(ctx.log);
  }

  /** Lists the coordination keys at one revision and (re)starts the watch right after it. */
  async resync(): Promise<void> {
    const rpc = this.ctx.rpc();
    const { keys } = this.ctx;
    const gen = ++this.gen;
    this.watch?.close();
    this.watch = null;
    const [start, end] = keys.coordinationRange;
    const coord = await rpc.list(start, end);
    const workers = await rpc.list(keys.workersPrefix, prefixEnd(keys.workersPrefix), 256, coord.rev);
    if (gen !== this.gen) return;
    await this.mirror.preparse(coord.kvs);
    if (gen !== this.gen) return;
    const change = this.mirror.replace([...coord.kvs, ...workers.kvs], coord.rev);
    this.listed = true;
    const watch = new RangeWatch(rpc, this.ctx.clock, {
      onEvents: (events, rev) => {
        if (gen !== this.gen) return;
        this.attempt = 0;
        this.events.emit('change', this.mirror.apply(events, rev));
      },
      onBroken: (reason) => {
        if (gen !== this.gen) return;
        this.ctx.log.warn({ reason }, 'etcd watch broken; re-listing');
        this.scheduleResync();
      },
    });
    this.watch = watch;
    watch.start(keys.prefix, prefixEnd(keys.prefix), coord.rev + 1);
    this.events.emit('change', change);
  }

  private scheduleResync(): void {
    const phase = this.ctx.phase;
    if (this.timer || (phase !== 'running' && phase !== 'starting')) return;
    const wait = this.ctx.backoffMs(this.attempt++);
    this.timer = this.ctx.clock.setTimeout(() => {
      this.timer = null;
      if (!this.ctx.running()) return;
      this.resync().catch((err: unknown) => {
        this.ctx.log.warn({ err: describeError(err) }, 're-list failed; retrying');
        this.scheduleResync();
      });
    }, wait);
  }

  /** Stops the watch (lease lost, stop); a later resync() starts a new one. */
  close(): void {
    this.gen++;
    this.watch?.close();
    this.watch = null;
  }

  cancelTimer(): void {
    if (this.timer) this.ctx.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
