/**
 * The etcd client factory and the thin, typed RPC layer every other file of cluster/etcd/ uses.
 * With client-options.ts (and watch.ts, for a stream type), the only file that touches the `etcd3` package. It avoids the package's traps (REFERENCE.md):
 * per-attempt deadlines on unary calls, gRPC keepalive, no circuit breaker (its password-auth
 * deadlock and its 5 s "open" periods), bounded retries; leases and watches are driven by our
 * own code (session.ts, watch.ts) over the raw gRPC streams, not by the package's Lease/Watcher.
 */
import {
  Etcd3,
  EtcdInvalidAuthTokenError,
  EtcdLeaseInvalidError,
  type ICompare,
  type IDuplexStream,
  type IKeyValue,
  type IRequestOp,
  type IResponseOp,
  type IWatchRequest,
  type IWatchResponse,
  isRecoverableError,
} from 'etcd3';
import {
  buildClientOptions,
  classifyEtcdError,
  type EtcdClientOptions,
  validateClientOptions,
} from './client-options.js';
import { ClusterError, ClusterErrorCode } from './errors.js';

import { prefixEnd } from './keys.js';

export interface KeyValue {
  key: string;
  value: Buffer;
  createRev: number;
  modRev: number;
  version: number;
  /** lease id as a decimal string ('0' = none); lease ids are 64-bit, beyond JS number precision */
  lease: string;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  kv: KeyValue;
}

export type Compare = ICompare;
export type Op = IRequestOp;

export interface TxnResult {
  succeeded: boolean;
  /** true when a transient error made us send it again: a "failed" result may hide an applied first try */
  retried: boolean;
  /**
   * header revision: the store revision after this txn (= modRevision of keys it wrote). A txn
   * that changed nothing gets no revision of its own: this is then the store's current one, which
   * may come from a write that no watch of ours will ever deliver (see txnChanged).
   */
  rev: number;
  responses: IResponseOp[];
}

/** Whether a txn changed the store (etcd gives it a revision only then): a put, or a delete that found a key. */
export function txnChanged(success: Op[], r: TxnResult): boolean {
  if (!r.succeeded) return false;
  if (success.some((o) => o.request_put)) return true;
  return r.responses.some((x) => Number(x.response_delete_range?.deleted ?? 0) > 0);
}

function isInvalidToken(err: unknown): boolean {
  return (
    err instanceof EtcdInvalidAuthTokenError ||
    /invalid auth token/i.test(err instanceof Error ? err.message : String(err))
  );
}

function toKv(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString('utf8'),
    value: kv.value,
    createRev: Number(kv.create_revision),
    modRev: Number(kv.mod_revision),
    version: Number(kv.version),
    lease: String(kv.lease ?? '0'),
  };
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ClusterError(ClusterErrorCode.UNREACHABLE, `${what} timed out after ${ms} ms`)),
        ms,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Compare and op builders for transactions. */
export const cmp = {
  mod: (key: string, rev: number): Compare => ({
    key: Buffer.from(key),
    target: 'Mod',
    result: 'Equal',
    mod_revision: rev,
  }),
  create: (key: string, rev: number): Compare => ({
    key: Buffer.from(key),
    target: 'Create',
    result: 'Equal',
    create_revision: rev,
  }),
  exists: (key: string): Compare => ({
    key: Buffer.from(key),
    target: 'Version',
    result: 'Greater',
    version: 0,
  }),
  lease: (key: string, lease: string): Compare => ({
    key: Buffer.from(key),
    target: 'Lease',
    result: 'Equal',
    lease,
  }),
};

export const op = {
  put: (key: string, value: string | Buffer, lease?: string): Op => ({
    request_put: {
      key: Buffer.from(key),
      value: Buffer.isBuffer(value) ? value : Buffer.from(value),
      ...(lease ? { lease } : {}),
    },
  }),
  del: (key: string): Op => ({ request_delete_range: { key: Buffer.from(key) } }),
  get: (key: string): Op => ({ request_range: { key: Buffer.from(key) } }),
};

/** Byte size of an op as it travels (for keeping transactions under etcd's 1.5 MiB request limit). */
export function opSize(o: Op): number {
  const p = o.request_put;
  if (p) return (p.key?.length ?? 0) + (p.value?.length ?? 0) + 16;
  return (o.request_delete_range?.key?.length ?? o.request_range?.key?.length ?? 0) + 16;
}

interface Member {
  url: string;
  client: Etcd3;
  okAt: number;
  failedAt: number;
}

/** Errors worth retrying on another member (network, deadline, member unavailable or frozen). */
function isTransient(err: unknown): boolean {
  if (err instanceof ClusterError) return err.code === ClusterErrorCode.UNREACHABLE;
  return (
    err instanceof Error &&
    (isRecoverableError(err) || /UNAVAILABLE|DEADLINE|timed out|No connection/i.test(err.message))
  );
}

/**
 * Raw etcd calls with typed results, over one etcd3 client PER MEMBER so that this code, not the
 * package's random shuffle, picks the member: the one that answered last, avoiding any that
 * failed in the last few seconds. A frozen or dead member costs one attempt, not one per call.
 * Unary calls carry a per-attempt deadline and move to the next member on a transient error;
 * a result that needed such a retry is marked `retried` (it may have applied on the first try).
 */
export class EtcdRpc {
  private readonly members: Member[];
  private closed = false;
  /** failed members are avoided for this long */
  private static readonly AVOID_MS = 5000;

  constructor(
    opts: EtcdClientOptions,
    readonly callTimeoutMs = opts.callTimeoutMs ?? 1500,
  ) {
    validateClientOptions(opts);
    this.members = opts.endpoints.map((url) => ({
      url,
      client: new Etcd3(buildClientOptions({ ...opts, endpoints: [url] })),
      okAt: 0,
      failedAt: 0,
    }));
  }

  /** The client of the currently preferred member (tests and maintenance calls). */
  get client(): Etcd3 {
    return this.order()[0]!.client;
  }

  isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const m of this.members) {
      try {
        m.client.close();
      } catch {
        // closing twice or while connecting: nothing to free
      }
    }
  }

  /** Members, best first: healthy ones by last success, then recently failed ones by age of failure. */
  private order(): Member[] {
    const now = Date.now();
    const healthy = (m: Member) => now - m.failedAt > EtcdRpc.AVOID_MS || m.okAt > m.failedAt;
    return [...this.members].sort((a, b) => {
      const ha = healthy(a);
      const hb = healthy(b);
      if (ha !== hb) return ha ? -1 : 1;
      return ha ? b.okAt - a.okAt : a.failedAt - b.failedAt;
    });
  }

  private async call<T>(fn: (c: Etcd3) => Promise<T>): Promise<{ value: T; retried: boolean }> {
    let last: unknown;
    const order = this.order();
    for (let i = 0; i < order.length; i++) {
      const m = order[i]!;
      try {
        const value = await timeout(fn(m.client), this.callTimeoutMs + 500, 'etcd call');
        m.okAt = Date.now();
        return { value, retried: i > 0 };
      } catch (err) {
        last = err;
        if (!isTransient(err)) throw err;
        m.failedAt = Date.now();
      }
    }
    throw last;
  }

  async get(key: string): Promise<{ rev: number; kv: KeyValue | null }> {
    const { value: res } = await this.call((c) => c.kv.range({ key: Buffer.from(key) }));
    const first = res.kvs[0];
    return { rev: Number(res.header.revision), kv: first ? toKv(first) : null };
  }

  /** Every key in [start, end) at one revision, in pages (a big jobset list exceeds one message). */
  async list(
    start: string,
    end: Buffer | string,
    pageSize = 256,
    atRev = 0,
  ): Promise<{ rev: number; kvs: KeyValue[] }> {
    const endBuf = Buffer.isBuffer(end) ? end : Buffer.from(end);
    const kvs: KeyValue[] = [];
    let from = Buffer.from(start);
    let rev = atRev;
    for (let page = 0; page < 100_000; page++) {
      const { value: res } = await this.call((c) =>
        c.kv.range({ key: from, range_end: endBuf, limit: pageSize, ...(rev ? { revision: rev } : {}) }),
      );
      if (!rev) rev = Number(res.header.revision);
      for (const kv of res.kvs) kvs.push(toKv(kv));
      const last = res.kvs[res.kvs.length - 1];
      if (!res.more || !last) break;
      from = Buffer.concat([last.key, Buffer.from([0])]);
    }
    return { rev, kvs };
  }

  listPrefix(prefix: string, pageSize?: number): Promise<{ rev: number; kvs: KeyValue[] }> {
    return this.list(prefix, prefixEnd(prefix), pageSize);
  }

  async txn(compare: Compare[], success: Op[], failure: Op[] = []): Promise<TxnResult> {
    const { value: res, retried } = await this.call((c) => c.kv.txn({ compare, success, failure }));
    return { succeeded: res.succeeded, rev: Number(res.header.revision), responses: res.responses, retried };
  }

  /** Active etcd alarms (NOSPACE, CORRUPT) on any member. */
  async alarms(): Promise<Array<{ member: string; alarm: string }>> {
    const { value: res } = await this.call((c) =>
      c.maintenance.alarm({ action: 'Get', memberID: 0, alarm: 'None' }),
    );
    return (res.alarms ?? []).map((a) => ({ member: String(a.memberID), alarm: String(a.alarm) }));
  }

  async leaseGrant(ttlSec: number): Promise<{ id: string; ttlSec: number }> {
    const { value: res } = await this.call((c) => c.leaseClient.leaseGrant({ TTL: ttlSec }));
    return { id: String(res.ID), ttlSec: Number(res.TTL) };
  }

  async leaseRevoke(id: string): Promise<void> {
    try {
      await this.call((c) => c.leaseClient.leaseRevoke({ ID: id }));
    } catch (err) {
      if (!(err instanceof EtcdLeaseInvalidError)) throw err;
    }
  }

  /**
   * One keepalive: to the preferred member, and if that fails, to all the others at once (first
   * answer wins). Resolves with the TTL the server granted (0 = the lease no longer exists);
   * rejects when no member answered, each attempt bounded by `timeoutMs`.
   */
  async keepAliveOnce(id: string, timeoutMs: number): Promise<number> {
    const [first, ...rest] = this.order();
    try {
      return await this.keepAliveVia(first!, id, timeoutMs);
    } catch (err) {
      if (rest.length === 0 || !isTransient(err)) throw err;
      try {
        return await Promise.any(rest.map((m) => this.keepAliveVia(m, id, timeoutMs)));
      } catch (agg) {
        throw (agg as AggregateError).errors?.[0] ?? err;
      }
    }
  }

  private async keepAliveVia(m: Member, id: string, timeoutMs: number): Promise<number> {
    let abandoned = false;
    let stream: IDuplexStream<{ ID?: string | number }, { TTL: string }> | undefined;
    const finish = (): void => {
      const s = stream;
      stream = undefined;
      if (!s) return;
      s.on('error', () => {});
      try {
        s.end();
      } catch {
        // already ended
      }
      try {
        s.cancel();
      } catch {
        // already cancelled
      }
    };
    const work = (async () => {
      const s = await m.client.leaseClient.leaseKeepAlive();
      stream = s;
      if (abandoned) {
        finish();
        throw new ClusterError(ClusterErrorCode.UNREACHABLE, 'keepalive abandoned');
      }
      return await new Promise<number>((resolve, reject) => {
        s.on('data', (res) => resolve(Number(res.TTL)));
        s.on('error', (err) => reject(err));
        s.on('end', () => reject(new ClusterError(ClusterErrorCode.UNREACHABLE, 'keepalive stream ended')));
        s.write({ ID: id });
      });
    })();
    work.catch(() => {});
    try {
      const ttl = await timeout(work, timeoutMs, 'lease keepalive');
      m.okAt = Date.now();
      return ttl;
    } catch (err) {
      if (isTransient(err)) m.failedAt = Date.now();
      // Streams reuse the cached auth token and never refresh it; a unary call does (the client
      // re-authenticates on "invalid auth token"), so the next keepalive carries a fresh token.
      if (isInvalidToken(err)) await m.client.kv.range({ key: Buffer.from('/') }).catch(() => undefined);
      throw err;
    } finally {
      abandoned = true;
      finish();
    }
  }

  private watchMember: Member | null = null;

  /** Opens a raw watch stream on the preferred member (see watch.ts). */
  async openWatchStream(): Promise<IDuplexStream<IWatchRequest, IWatchResponse>> {
    const m = this.order()[0]!;
    this.watchMember = m;
    try {
      return await m.client.watchClient.watch();
    } catch (err) {
      if (isTransient(err)) m.failedAt = Date.now();
      throw err;
    }
  }

  /** The last watch stream broke (error, end, silence): avoid its member unless it answers meanwhile. */
  reportWatchFailure(): void {
    if (this.watchMember) this.watchMember.failedAt = Date.now();
  }
}

/** Parses a raw watch response's events. */
export function watchEvents(res: IWatchResponse): WatchEvent[] {
  return (res.events ?? []).map((e) => ({ type: e.type === 'Delete' ? 'delete' : 'put', kv: toKv(e.kv) }));
}

/**
 * Creates the RPC layer and proves it works with one bounded call: a wrong password, a TLS
 * problem or a missing permission becomes a typed error within `timeoutMs` instead of a hang.
 */
export async function connectEtcd(
  opts: EtcdClientOptions,
  probeKey: string,
  timeoutMs = 5000,
): Promise<EtcdRpc> {
  const rpc = new EtcdRpc(opts);
  try {
    await timeout(rpc.get(probeKey), timeoutMs, 'etcd connection check');
    return rpc;
  } catch (err) {
    rpc.close();
    throw classifyEtcdError(err);
  }
}

/** Races a promise against a timeout (exported for the coordinator's bounded operations). */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return timeout(p, ms, what);
}
