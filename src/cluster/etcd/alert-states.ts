/**
 * Alert states in etcd: loading them for newly owned jobs, and the save queue that writes them
 * back with one fenced txn per owned jobset (the puts apply only while this worker still owns it).
 */
import type { AlertState } from '../../model/alert.js';
import type { TimerHandle } from '../../model/clock.js';
import { cmp, op } from './client.js';
import type { ClusterContext } from './context.js';
import { describeError } from './errors.js';

/** Which owned jobset a job is in and its fencing token: what the owned jobsets and the job view know. */
export interface AlertStateOwners {
  /** the owned jobset a job belongs to (as last handed to the engine) */
  jobsetOf(name: string): string | undefined;
  /** the fencing token of an owned jobset, undefined if not owned */
  ownerToken(jsid: string): number | undefined;
  /** true if the jobset (per the mirror) contains this job */
  jobsetHasJob(jsid: string, name: string): boolean;
}

export class AlertStateStore {
  private readonly pending = new Map<string, AlertState>();
  private timer: TimerHandle | null = null;
  private attempt = 0;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly ctx: ClusterContext,
    private readonly owners: AlertStateOwners,
  ) {}

  async load(names: string[]): Promise<Map<string, AlertState>> {
    const out = new Map<string, AlertState>();
    const rpc = this.ctx.state.rpc;
    if (!rpc || names.length === 0) return out;
    for (let i = 0; i < names.length; i += 100) {
      const chunk = names.slice(i, i + 100);
      for (let attempt = 0; attempt < 3; attempt++) {
        try {
          const r = await rpc.txn(
            [],
            chunk.map((n) => op.get(this.ctx.keys.state(n))),
          );
          for (const resp of r.responses) {
            const kv = resp.response_range?.kvs?.[0];
            if (!kv) continue;
            const st = parseAlertState(kv.value);
            if (st) out.set(st.endpoint, st);
          }
          break;
        } catch (err) {
          if (attempt === 2)
            this.ctx.log.warn({ err: describeError(err) }, 'could not load alert states from etcd');
          else await this.ctx.sleep(200 * (attempt + 1));
        }
      }
    }
    return out;
  }

  save(state: AlertState): void {
    try {
      if (this.owners.jobsetOf(state.endpoint) === undefined) return;
      this.pending.set(state.endpoint, { ...state });
      this.scheduleFlush(0);
    } catch (err) {
      this.ctx.log.warn({ err: describeError(err) }, 'saveAlertState failed');
    }
  }

  /** Cancels a scheduled flush (stop). */
  cancelTimer(): void {
    if (this.timer) this.ctx.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** State puts of pending alert states of these jobsets' jobs (travel inside the fenced txn). */
  takePendingOps(jsids: Set<string>): Array<ReturnType<typeof op.put>> {
    const ops: Array<ReturnType<typeof op.put>> = [];
    for (const [name, st] of this.pending) {
      const jsid = [...jsids].find((id) => this.owners.jobsetHasJob(id, name));
      if (jsid && ops.length < 100) {
        ops.push(op.put(this.ctx.keys.state(name), JSON.stringify(st)));
        this.pending.delete(name);
      }
    }
    return ops;
  }

  private scheduleFlush(ms: number): void {
    if (this.timer || this.pending.size === 0) return;
    this.timer = this.ctx.clock.setTimeout(() => {
      this.timer = null;
      if (!this.flushing) {
        this.flushing = this.flush().finally(() => {
          this.flushing = null;
        });
      }
    }, ms);
  }

  /** One fenced txn per owned jobset: the state puts apply only while we still own it. */
  private async flush(): Promise<void> {
    const rpc = this.ctx.state.rpc;
    if (!rpc || !this.ctx.running() || this.pending.size === 0) {
      if (this.pending.size > 0) this.scheduleFlush(this.ctx.backoffMs(this.attempt++));
      return;
    }
    const byJobset = new Map<string, AlertState[]>();
    for (const [name, st] of this.pending) {
      const jsid = this.owners.jobsetOf(name);
      if (!jsid || this.owners.ownerToken(jsid) === undefined) {
        this.pending.delete(name);
        continue;
      }
      const list = byJobset.get(jsid) ?? [];
      list.push(st);
      byJobset.set(jsid, list);
    }
    let failed = false;
    for (const [jsid, states] of byJobset) {
      const token = this.owners.ownerToken(jsid);
      if (token === undefined) continue;
      const batch = states.slice(0, 100);
      try {
        const r = await rpc.txn(
          [cmp.mod(this.ctx.keys.owner(jsid), token)],
          batch.map((st) => op.put(this.ctx.keys.state(st.endpoint), JSON.stringify(st))),
        );
        for (const st of batch) if (this.pending.get(st.endpoint) === st) this.pending.delete(st.endpoint);
        this.ctx.writes.accepted();
        if (!r.succeeded)
          this.ctx.log.debug({ jobset: jsid }, 'alert state not saved: jobset no longer ours');
      } catch (err) {
        failed = true;
        this.ctx.writes.failed(err, 'alert states');
        this.ctx.log.debug({ err: describeError(err) }, 'saving alert state failed; will retry');
      }
    }
    this.attempt = failed ? this.attempt + 1 : 0;
    if (this.pending.size > 0) this.scheduleFlush(failed ? this.ctx.backoffMs(this.attempt) : 0);
  }
}

export function parseAlertState(buf: Buffer): AlertState | null {
  try {
    const v = JSON.parse(buf.toString('utf8')) as Partial<AlertState>;
    if (typeof v.endpoint !== 'string' || (v.state !== 'UP' && v.state !== 'DOWN' && v.state !== 'UNKNOWN'))
      return null;
    return {
      endpoint: v.endpoint,
      state: v.state,
      consecutiveFailures: typeof v.consecutiveFailures === 'number' ? v.consecutiveFailures : 0,
      consecutiveSuccesses: typeof v.consecutiveSuccesses === 'number' ? v.consecutiveSuccesses : 0,
      since: typeof v.since === 'number' ? v.since : 0,
      reason: typeof v.reason === 'string' ? v.reason : null,
    };
  } catch {
    return null;
  }
}
