/**
 * What both the admin and `watcher apply` write: the desired jobs of a config snapshot with their
 * rates, fresh jobset ids, and ops split into transactions under etcd's op-count and size limits.
 */
import { randomBytes } from 'node:crypto';
import type { ConfigSnapshot, RawEndpoint } from '../../config/types.js';
import type { Schedule } from '../../model/endpoint.js';
import { typicalIntervalMs } from '../../schedule/index.js';
import { type Op, opSize } from './client.js';
import type { DesiredJob } from './packing.js';

/** Most ops per admin transaction (etcd allows 128; one slot for safety). */
const MAX_TXN_OPS = 120;
const MAX_TXN_BYTES = 1024 * 1024;

/** Expected checks per second of one endpoint's schedule. */
export function rateOf(schedule: Schedule | undefined, now: number): number {
  if (!schedule) return 1 / 60;
  try {
    const ms = typicalIntervalMs(schedule, now);
    return ms > 0 ? 1000 / ms : 1 / 60;
  } catch {
    return 1 / 60;
  }
}

/** The desired jobs of a config snapshot (with or without its normalised endpoints), with their rates. */
export function desiredJobs(snapshot: ConfigSnapshot, now: number): Map<string, DesiredJob> {
  const schedules = snapshot.schedules ?? new Map(snapshot.endpoints.map((e) => [e.name, e.schedule]));
  const out = new Map<string, DesiredJob>();
  for (const [name, raw] of snapshot.raw) {
    out.set(name, { raw: raw as RawEndpoint, rate: rateOf(schedules.get(name), now) });
  }
  return out;
}

export function newJobsetId(taken: (id: string) => boolean): string {
  for (;;) {
    const id = `js-${randomBytes(5).toString('hex')}`;
    if (!taken(id)) return id;
  }
}

/** Splits ops into transactions under etcd's op-count and request-size limits. */
export function chunkOps(ops: Op[], maxOps = MAX_TXN_OPS, maxBytes = MAX_TXN_BYTES): Op[][] {
  const out: Op[][] = [];
  let cur: Op[] = [];
  let bytes = 0;
  for (const o of ops) {
    const size = opSize(o);
    if (cur.length > 0 && (cur.length >= maxOps || bytes + size > maxBytes)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(o);
    bytes += size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}
