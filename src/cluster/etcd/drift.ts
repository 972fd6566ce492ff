/**
 * Config drift in folder mode: every worker publishes the checksum of its folder's endpoint
 * definitions in `checksums/<id>` (under its own worker lease, so it goes with the worker) and
 * compares it every few seconds with the admin's. A worker whose folder differs raises one
 * `config_drift` episode (and `config_drift_resolved` when it matches again), instead of silently
 * flipping the cluster's endpoints at the next admin change. `watcher status` shows who differs.
 */

import { canonicalJson, hash128 } from '../../config/hash.js';
import type { ConfigSnapshot } from '../../config/types.js';
import type { Clock, TimerHandle } from '../../model/clock.js';
import type { Logger } from '../../model/logger.js';
import { type EtcdRpc, op } from './client.js';
import { describeError } from './errors.js';
import { type Keys, prefixEnd } from './keys.js';

export interface ChecksumValue {
  v: 1;
  id: string;
  checksum: string;
  endpoints: number;
  at: number;
}

export function checksumsPrefix(keys: Keys): string {
  return `${keys.prefix}checksums/`;
}

/** Of names and definitions only: the same folder mounted at other paths gives the same checksum. */
export function folderChecksum(s: ConfigSnapshot): string {
  const defs = [...s.raw.values()].map((r) => [r.name, r.spec]).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
  return hash128(canonicalJson(defs));
}

/** Every worker's published checksum, by worker id (`watcher status`). */
export async function readChecksums(rpc: EtcdRpc, keys: Keys): Promise<Map<string, ChecksumValue>> {
  const pre = checksumsPrefix(keys);
  const { kvs } = await rpc.list(pre, prefixEnd(pre));
  const out = new Map<string, ChecksumValue>();
  for (const kv of kvs) {
    try {
      const v = JSON.parse(kv.value.toString('utf8')) as ChecksumValue;
      if (v?.v === 1) out.set(v.id, v);
    } catch {
      // ignored: a malformed record drifts from nothing
    }
  }
  return out;
}

/** Worker ids whose checksum differs from the admin's (empty when the admin published none). */
export function driftingWorkers(sums: ReadonlyMap<string, ChecksumValue>, admin: string | null): string[] {
  const ref = admin ? sums.get(admin) : undefined;
  if (!ref) return [];
  return [...sums.values()]
    .filter((s) => s.checksum !== ref.checksum)
    .map((s) => s.id)
    .sort();
}

export interface DriftEvent {
  drifting: boolean;
  mine: string;
  admin: string;
  adminChecksum: string | null;
}

export class DriftMonitor {
  private timer: TimerHandle | null = null;
  private checksum: string | null = null;
  private endpoints = 0;
  private publishedFor: string | null = null;
  private drifting = false;

  constructor(
    private readonly deps: {
      rpc: EtcdRpc;
      keys: Keys;
      clock: Clock;
      logger: Logger;
      workerId: string;
      /** this worker's lease (null while it has none) and the admin's id */
      leaseId(): string | null;
      admin(): string | null;
      onChange(e: DriftEvent): void;
      everyMs?: number;
    },
  ) {}

  setSnapshot(s: ConfigSnapshot): void {
    this.checksum = folderChecksum(s);
    this.endpoints = s.raw.size;
    this.publishedFor = null;
  }

  start(): void {
    const tick = () => {
      this.timer = this.deps.clock.setTimeout(() => {
        this.check().finally(tick);
      }, this.deps.everyMs ?? 2000);
    };
    void this.check().finally(tick);
  }

  close(): void {
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private async check(): Promise<void> {
    const { rpc, keys, workerId } = this.deps;
    const lease = this.deps.leaseId();
    if (!this.checksum || !lease) return;
    try {
      const tag = `${lease}/${this.checksum}`;
      if (this.publishedFor !== tag) {
        const v: ChecksumValue = {
          v: 1,
          id: workerId,
          checksum: this.checksum,
          endpoints: this.endpoints,
          at: this.deps.clock.now(),
        };
        await rpc.txn([], [op.put(`${checksumsPrefix(keys)}${workerId}`, JSON.stringify(v), lease)]);
        this.publishedFor = tag;
      }
      const admin = this.deps.admin();
      if (!admin || admin === workerId) return this.set(false, admin ?? workerId, this.checksum);
      const got = await rpc.get(`${checksumsPrefix(keys)}${admin}`);
      if (!got.kv) return;
      const theirs = (JSON.parse(got.kv.value.toString('utf8')) as ChecksumValue).checksum;
      this.set(theirs !== this.checksum, admin, theirs);
    } catch (err) {
      this.deps.logger.debug({ err: describeError(err) }, 'config checksum check failed');
    }
  }

  private set(drifting: boolean, admin: string, adminChecksum: string | null): void {
    if (drifting === this.drifting) return;
    this.drifting = drifting;
    this.deps.onChange({ drifting, mine: this.checksum ?? '', admin, adminChecksum });
  }
}
