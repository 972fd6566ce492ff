/**
 * `/watcher/<cluster>/self` (`--config-source etcd`): the desired `self` blocks (where workers report
 * on themselves), stored by `watcher apply` as written, `${VAR}` not expanded, like the jobs; each
 * worker normalises them with its own environment. Workers in etcd mode read no folder: they watch
 * this key, and a change takes effect without a restart. No key = no self sinks.
 */
import { canonicalJson } from '../../config/hash.js';
import type { RawSelf } from '../../config/types.js';
import type { Clock } from '../../model/clock.js';
import type { Logger } from '../../model/logger.js';
import { type EtcdRpc, type KeyValue, type Op, op } from './client.js';
import type { Keys } from './keys.js';
import { ListWatch } from './list-watch.js';

export interface DesiredSelfValue {
  v: 1;
  blocks: RawSelf[];
  at: number;
}

export type SelfChange = 'added' | 'changed' | 'removed';

export function selfKey(keys: Keys): string {
  return `${keys.prefix}self`;
}

/** The stored blocks; null when the value does not parse (treated as no blocks, and logged). */
export function parseDesiredSelf(buf: Buffer): RawSelf[] | null {
  try {
    const v = JSON.parse(buf.toString('utf8')) as DesiredSelfValue;
    if (v?.v !== 1 || !Array.isArray(v.blocks)) return null;
    return v.blocks.filter(
      (b) => typeof b?.file === 'string' && typeof b.spec === 'object' && b.spec !== null,
    );
  } catch {
    return null;
  }
}

/** Of the specs only: the same folder applied from another path changes nothing. */
const specsOf = (blocks: readonly RawSelf[]): string => canonicalJson(blocks.map((b) => b.spec));

/** What an apply of `desired` does to the stored key (`stored` null = no key); null = nothing. */
export function selfChange(stored: KeyValue | null, desired: readonly RawSelf[]): SelfChange | null {
  if (!stored) return desired.length > 0 ? 'added' : null;
  if (desired.length === 0) return 'removed';
  return specsOf(parseDesiredSelf(stored.value) ?? []) === specsOf(desired) ? null : 'changed';
}

export function selfOp(keys: Keys, change: SelfChange, desired: readonly RawSelf[], now: number): Op {
  if (change === 'removed') return op.del(selfKey(keys));
  const value: DesiredSelfValue = { v: 1, blocks: [...desired], at: now };
  return op.put(selfKey(keys), JSON.stringify(value));
}

/** Every etcd-mode worker's copy of the key: `onChange` with the blocks at start and at each change. */
export class DesiredSelfWatch {
  private readonly watch: ListWatch;

  constructor(deps: {
    rpc: EtcdRpc;
    keys: Keys;
    clock: Clock;
    logger: Logger;
    onChange(blocks: RawSelf[]): void;
  }) {
    const key = selfKey(deps.keys);
    const deliver = (kv: KeyValue | null) => {
      const blocks = kv ? parseDesiredSelf(kv.value) : [];
      if (blocks === null) deps.logger.error({ key }, 'the stored self block does not parse; no self sinks');
      deps.onChange(blocks ?? []);
    };
    this.watch = new ListWatch(
      { ...deps, what: 'self block', start: key, end: Buffer.from(`${key}\0`) },
      {
        onList: (kvs) => deliver(kvs[0] ?? null),
        onEvents: (events) => {
          const last = events[events.length - 1];
          if (last) deliver(last.type === 'put' ? last.kv : null);
        },
      },
    );
  }

  start(): Promise<void> {
    return this.watch.start();
  }

  close(): void {
    this.watch.close();
  }
}
