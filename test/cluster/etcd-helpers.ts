/**
 * Helpers for the etcd coordinator tests: in-process coordinators acting as workers, fake
 * endpoint definitions, a pausable clock (to simulate SIGSTOP of one in-process worker), and
 * direct etcd access for assertions.
 */

import type { OwnedJob } from '../../src/cluster/coordinator.js';
import { EtcdRpc } from '../../src/cluster/etcd/client.js';
import {
  type CoordinatorTuning,
  createEtcdCoordinator,
  type EtcdCoordinator,
  type EtcdCoordinatorOptions,
} from '../../src/cluster/etcd/coordinator.js';
import { Keys, prefixEnd } from '../../src/cluster/etcd/keys.js';
import { stableJson } from '../../src/cluster/etcd/packing.js';
import { parseOwner } from '../../src/cluster/etcd/values.js';
import type { ConfigSnapshot, RawEndpoint } from '../../src/config/types.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { type Clock, systemClock, type TimerHandle } from '../../src/model/clock.js';
import type { Endpoint } from '../../src/model/endpoint.js';
import type { Logger } from '../../src/model/logger.js';
import { silentLogger } from '../../src/model/logger.js';

/** A RawEndpoint as the config module would store it. */
export function raw(
  name: string,
  extra: Record<string, unknown> = {},
  file = 'endpoints.d/a.yml',
): RawEndpoint {
  return { name, file, line: 1, spec: { interval: '1s', ...extra } };
}

/** A normalize stand-in: enough of an Endpoint for the coordinator (name, hash, schedule). */
export function fakeNormalize(r: RawEndpoint): Endpoint | null {
  if (r.spec.invalid) return null;
  return {
    name: r.name,
    file: r.file,
    line: r.line,
    hash: stableJson(r.spec),
    schedule: { kind: 'interval', everyMs: 1000 },
  } as unknown as Endpoint;
}

export function snapshot(
  names: string[],
  extra: (name: string) => Record<string, unknown> = () => ({}),
): ConfigSnapshot {
  const rawMap = new Map<string, RawEndpoint>();
  for (const n of names) rawMap.set(n, raw(n, extra(n)));
  return {
    endpoints: names.map((n) => fakeNormalize(rawMap.get(n)!)!),
    self: [],
    problems: [],
    files: [{ file: 'endpoints.d/a.yml', ok: true, endpoints: names.length, checksum: 'x' }],
    raw: rawMap,
    rawSelf: [],
  };
}

export const names = (n: number, prefix = 'svc'): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}.test/health`);

/** Clock whose timers can be held (as if the process were SIGSTOPped) and released in order. */
export class PausableClock implements Clock {
  private paused = false;
  private held: Array<() => void> = [];
  now(): number {
    return Date.now();
  }
  monotonic(): number {
    return performance.now();
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const wrapped = { cancelled: false };
    const t = setTimeout(() => {
      if (wrapped.cancelled) return;
      if (this.paused) this.held.push(fn);
      else fn();
    }, ms);
    t.unref();
    return { t, wrapped } as unknown as TimerHandle;
  }
  clearTimeout(h: TimerHandle): void {
    const x = h as unknown as { t: NodeJS.Timeout; wrapped: { cancelled: boolean } };
    x.wrapped.cancelled = true;
    clearTimeout(x.t);
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    const fns = this.held;
    this.held = [];
    for (const fn of fns) fn();
  }
}

export interface TestWorker {
  id: string;
  coord: EtcdCoordinator;
  metrics: Metrics;
  /** the last set handed to onOwnedChange */
  jobs(): ReadonlyMap<string, OwnedJob>;
  /** every onOwnedChange call, in order */
  history: Array<ReadonlyMap<string, OwnedJob>>;
  /** local time of each history entry */
  times: number[];
  claims(): Promise<{ won: number; lost: number; error: number }>;
}

export interface WorkerOptions extends Partial<Omit<EtcdCoordinatorOptions, 'tuning'>> {
  tuning?: Partial<CoordinatorTuning>;
  logger?: Logger;
  /** called synchronously on every onOwnedChange (for ledgers across workers) */
  onChange?: (id: string, jobs: ReadonlyMap<string, OwnedJob>) => void;
}

/**
 * Records who runs what over time across workers and remembers any moment at which one job was
 * in two workers' sets at once.
 */
export class Ledger {
  readonly sets = new Map<string, ReadonlyMap<string, OwnedJob>>();
  readonly overlaps: string[] = [];
  /** per job: when it last left a worker's set */
  readonly leftAt = new Map<string, number>();
  readonly onChange = (id: string, jobs: ReadonlyMap<string, OwnedJob>): void => {
    const prev = this.sets.get(id);
    const now = Date.now();
    if (prev) for (const name of prev.keys()) if (!jobs.has(name)) this.leftAt.set(name, now);
    this.sets.set(id, jobs);
    const seen = new Map<string, string>();
    for (const [wid, set] of this.sets) {
      for (const name of set.keys()) {
        const other = seen.get(name);
        if (other) this.overlaps.push(`${name}: ${other} and ${wid}`);
        seen.set(name, wid);
      }
    }
  };
}

export const FAST_TUNING: Partial<CoordinatorTuning> = {
  joinGraceMs: 100,
  publishIntervalMs: 500,
  rebalanceIntervalMs: 300,
};

export function makeWorker(endpoints: string[], id: string, o: WorkerOptions = {}): TestWorker {
  const metrics = createMetrics({ defaultMetrics: false });
  let last: ReadonlyMap<string, OwnedJob> = new Map();
  const history: Array<ReadonlyMap<string, OwnedJob>> = [];
  const times: number[] = [];
  const coord = createEtcdCoordinator({
    endpoints,
    cluster: o.cluster ?? 'test',
    workerId: id,
    address: `127.0.0.1:0`,
    version: 'test',
    leaseTtlSec: o.leaseTtlSec ?? 2,
    capacity: o.capacity ?? null,
    onPartition: o.onPartition ?? 'continue',
    normalize: o.normalize ?? fakeNormalize,
    desired: o.desired ?? (() => null),
    metrics,
    logger: o.logger ?? silentLogger,
    clock: o.clock ?? systemClock,
    tuning: { ...FAST_TUNING, ...o.tuning },
    ...(o.tls ? { tls: o.tls } : {}),
    ...(o.auth ? { auth: o.auth } : {}),
  });
  coord.onOwnedChange((jobs) => {
    last = jobs;
    history.push(jobs);
    times.push(Date.now());
    o.onChange?.(id, jobs);
  });
  return {
    id,
    coord,
    metrics,
    jobs: () => last,
    history,
    times,
    claims: async () => {
      const v = await metrics.claimsTotal.get();
      const get = (outcome: string) => v.values.find((x) => x.labels.outcome === outcome)?.value ?? 0;
      return { won: get('won'), lost: get('lost'), error: get('error') };
    },
  };
}

/** Direct view of etcd for assertions: owners of every jobset. */
export async function readOwners(
  endpoints: string[],
  cluster = 'test',
): Promise<{ jobsets: string[]; owners: Map<string, string | null> }> {
  const rpc = new EtcdRpc({ endpoints });
  try {
    const keys = new Keys(cluster);
    const js = await rpc.listPrefix(`${keys.prefix}jobsets/`);
    const ow = await rpc.listPrefix(`${keys.prefix}owners/`);
    const owners = new Map<string, string | null>();
    for (const kv of ow.kvs)
      owners.set(kv.key.slice(`${keys.prefix}owners/`.length), parseOwner(kv.value)?.owner ?? null);
    return { jobsets: js.kvs.map((kv) => kv.key.slice(`${keys.prefix}jobsets/`.length)), owners };
  } finally {
    rpc.close();
  }
}

/** Deletes every key of a cluster prefix (between tests sharing one etcd). */
export async function wipe(endpoints: string[], cluster = 'test'): Promise<void> {
  const rpc = new EtcdRpc({ endpoints });
  try {
    const prefix = new Keys(cluster).prefix;
    await rpc.client.kv.deleteRange({ key: Buffer.from(prefix), range_end: prefixEnd(prefix) });
  } finally {
    rpc.close();
  }
}

/** Union of the jobs every worker runs, with how many workers run each. */
export function runCounts(workers: TestWorker[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const w of workers) for (const name of w.jobs().keys()) out.set(name, (out.get(name) ?? 0) + 1);
  return out;
}

/** True when each of `expected` runs on exactly one worker and nothing else runs. */
export function exactlyOnce(workers: TestWorker[], expected: string[]): boolean {
  const counts = runCounts(workers);
  if (counts.size !== expected.length) return false;
  return expected.every((n) => counts.get(n) === 1);
}
