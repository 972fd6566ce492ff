/**
 * An in-memory etcd for unit tests of the coordinator's pieces: one revision counter, txn with the
 * compares the pieces use (Mod, Create, Version > 0, Lease), put/delete/range ops, list, get, and
 * watch streams that deliver every later write in revision order (or are cancelled by `compact`).
 * Only what the pieces call; it is handed to them as an EtcdRpc.
 */
import { EventEmitter } from 'node:events';
import type { Compare, EtcdRpc, KeyValue, Op, TxnResult } from '../../src/cluster/etcd/client.js';
import { ClusterContext } from '../../src/cluster/etcd/context.js';
import { Keys } from '../../src/cluster/etcd/keys.js';
import { DEFAULT_TUNING } from '../../src/cluster/etcd/options.js';
import { FakeClock } from '../../src/model/clock.js';
import { silentLogger } from '../../src/model/logger.js';

interface WireKv {
  key: Buffer;
  value: Buffer;
  create_revision: string;
  mod_revision: string;
  version: string;
  lease: string;
}

interface WireEvent {
  type: 'Put' | 'Delete';
  kv: WireKv;
}

function wire(kv: KeyValue): WireKv {
  return {
    key: Buffer.from(kv.key),
    value: kv.value,
    create_revision: String(kv.createRev),
    mod_revision: String(kv.modRev),
    version: String(kv.version),
    lease: kv.lease,
  };
}

/** One watch stream as RangeWatch uses it: write(create_request), 'data' responses, end/cancel. */
class FakeWatchStream extends EventEmitter {
  from = 0;
  start = '';
  stop = '';
  created = false;
  closed = false;

  constructor(private readonly onCreate: (s: FakeWatchStream) => void) {
    super();
  }

  write(req: { create_request?: { key: Buffer; range_end: Buffer; start_revision: number } }): void {
    const c = req.create_request;
    if (!c) return;
    this.start = c.key.toString();
    this.stop = c.range_end.toString();
    this.from = c.start_revision;
    queueMicrotask(() => {
      if (this.closed) return;
      this.created = true;
      this.emit('data', { created: true, header: { revision: '0' }, events: [] });
      this.onCreate(this);
    });
  }

  covers(key: string): boolean {
    return key >= this.start && key < this.stop;
  }

  end(): void {
    this.closed = true;
  }

  cancel(): void {
    this.closed = true;
  }
}

export interface FailPlan {
  error: Error;
  /** true: the txn is applied before the error (a retried or timed-out call whose first try landed) */
  applied: boolean;
}

export class FakeEtcd {
  rev = 1;
  readonly kvs = new Map<string, KeyValue>();
  /** every txn sent, in order, with whether it succeeded */
  readonly txns: Array<{ compare: Compare[]; success: Op[]; succeeded: boolean }> = [];
  /** the next txn calls fail like this, one entry each */
  readonly failNext: FailPlan[] = [];
  readonly streams: FakeWatchStream[] = [];
  watchFailures = 0;
  /** called before each txn is evaluated (a competing write lands just before ours) */
  beforeTxn: (() => void) | null = null;
  private readonly history: Array<{ rev: number; event: WireEvent }> = [];

  /** A direct write (another worker, the admin): one revision, seen by the watches. */
  put(key: string, value: unknown, lease = '0'): number {
    this.rev++;
    this.applyPut(key, Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)), lease);
    this.flush();
    return this.rev;
  }

  del(key: string): number {
    this.rev++;
    this.applyDel(key);
    this.flush();
    return this.rev;
  }

  value(key: string): unknown {
    const kv = this.kvs.get(key);
    return kv ? JSON.parse(kv.value.toString()) : undefined;
  }

  /** Compaction past every open watch: etcd cancels them with the compact revision. */
  compact(): void {
    for (const s of this.streams.filter((x) => !x.closed && x.created)) {
      s.emit('data', { canceled: true, compact_revision: String(this.rev), events: [] });
    }
  }

  openStreams(): number {
    return this.streams.filter((s) => !s.closed && s.created).length;
  }

  rpc(): EtcdRpc {
    const self = this;
    return {
      async txn(compare: Compare[], success: Op[], failure: Op[] = []): Promise<TxnResult> {
        self.beforeTxn?.();
        const plan = self.failNext.shift();
        if (plan && !plan.applied) throw plan.error;
        const result = self.txn(compare, success, failure);
        if (plan) throw plan.error;
        return result;
      },
      async get(key: string) {
        return { rev: self.rev, kv: self.kvs.get(key) ?? null };
      },
      async list(start: string, end: Buffer | string) {
        const e = end.toString();
        const kvs = [...self.kvs.values()]
          .filter((kv) => kv.key >= start && kv.key < e)
          .sort((a, b) => (a.key < b.key ? -1 : 1));
        return { rev: self.rev, kvs };
      },
      async openWatchStream() {
        const s = new FakeWatchStream((created) => self.replay(created));
        self.streams.push(s);
        return s as never;
      },
      reportWatchFailure() {
        self.watchFailures++;
      },
    } as unknown as EtcdRpc;
  }

  private txn(compare: Compare[], success: Op[], failure: Op[]): TxnResult {
    const ok = compare.every((c) => this.holds(c));
    const ops = ok ? success : failure;
    // as etcd: a txn gets a revision only when it changes something (a put, a delete that finds a key)
    const writes = ops.some(
      (o) =>
        o.request_put || (o.request_delete_range && this.kvs.has(o.request_delete_range.key!.toString())),
    );
    if (writes) this.rev++;
    const responses = ops.map((o) => {
      if (o.request_put) {
        const p = o.request_put;
        this.applyPut(p.key!.toString(), Buffer.from(p.value as Buffer), String(p.lease ?? '0'));
        return { response_put: {} };
      }
      if (o.request_delete_range) {
        const key = o.request_delete_range.key!.toString();
        const deleted = this.kvs.has(key) ? 1 : 0;
        this.applyDel(key);
        return { response_delete_range: { deleted: String(deleted) } };
      }
      const kv = this.kvs.get(o.request_range!.key!.toString());
      return { response_range: { kvs: kv ? [wire(kv)] : [] } };
    });
    this.txns.push({ compare, success, succeeded: ok });
    if (writes) this.flush();
    return { succeeded: ok, retried: false, rev: this.rev, responses } as unknown as TxnResult;
  }

  private holds(c: Compare): boolean {
    const kv = this.kvs.get(c.key!.toString());
    switch (c.target) {
      case 'Mod':
        return (kv?.modRev ?? 0) === Number(c.mod_revision);
      case 'Create':
        return (kv?.createRev ?? 0) === Number(c.create_revision);
      case 'Version':
        return (kv?.version ?? 0) > Number(c.version);
      case 'Lease':
        return (kv?.lease ?? '0') === String(c.lease);
      default:
        throw new Error(`fake etcd: compare ${String(c.target)} not supported`);
    }
  }

  private pending: WireEvent[] = [];

  private applyPut(key: string, value: Buffer, lease: string): void {
    const prev = this.kvs.get(key);
    const kv: KeyValue = {
      key,
      value,
      createRev: prev?.createRev ?? this.rev,
      modRev: this.rev,
      version: (prev?.version ?? 0) + 1,
      lease,
    };
    this.kvs.set(key, kv);
    this.pending.push({ type: 'Put', kv: wire(kv) });
  }

  private applyDel(key: string): void {
    const prev = this.kvs.get(key);
    if (!prev) return;
    this.kvs.delete(key);
    this.pending.push({ type: 'Delete', kv: wire({ ...prev, modRev: this.rev, value: Buffer.alloc(0) }) });
  }

  /** One watch response per revision, to every created stream that covers the keys. */
  private flush(): void {
    const events = this.pending;
    this.pending = [];
    for (const event of events) this.history.push({ rev: this.rev, event });
    for (const s of this.streams) {
      if (s.closed || !s.created) continue;
      const mine = events.filter((e) => s.covers(e.kv.key.toString()) && this.rev >= s.from);
      if (mine.length > 0) s.emit('data', { events: mine, header: { revision: String(this.rev) } });
    }
  }

  /** At creation: the events from the stream's start revision on that were written before. */
  private replay(s: FakeWatchStream): void {
    if (s.closed) return;
    const mine = this.history
      .filter((h) => h.rev >= s.from && s.covers(h.event.kv.key.toString()))
      .map((h) => h.event);
    if (mine.length > 0) s.emit('data', { events: mine, header: { revision: String(this.rev) } });
  }
}

/** A running ClusterContext of worker `me` (cluster `t`, fake clock) on a fresh FakeEtcd. */
export function fakeCluster() {
  const clock = new FakeClock();
  const keys = new Keys('t');
  const ctx = new ClusterContext(keys, clock, silentLogger, 'me', { ...DEFAULT_TUNING });
  const etcd = new FakeEtcd();
  ctx.state.rpc = etcd.rpc();
  ctx.state.phase = 'running';
  return { clock, keys, ctx, etcd };
}

/** Lets pending promise chains, microtasks and immediates run (watch deliveries, txn answers). */
export async function settle(rounds = 6): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}
