/**
 * `/watcher/<cluster>/config-source`: where the cluster's desired endpoints come from, published by
 * each newly elected admin ({ mode, admin }). `watcher apply` reads it and refuses in folder mode,
 * where the admin would reconcile its own folder again and silently undo the apply.
 */
import type { EtcdRpc } from './client.js';
import { op } from './client.js';
import type { Keys } from './keys.js';

export type ConfigSourceMode = 'folder' | 'etcd';

export interface ConfigSourceValue {
  v: 1;
  mode: ConfigSourceMode;
  /** the admin that published it */
  admin: string;
  at: number;
}

export function configSourceKey(keys: Keys): string {
  return `${keys.prefix}config-source`;
}

export async function publishConfigSource(
  rpc: EtcdRpc,
  keys: Keys,
  mode: ConfigSourceMode,
  admin: string,
): Promise<void> {
  const value: ConfigSourceValue = { v: 1, mode, admin, at: Date.now() };
  await rpc.txn([], [op.put(configSourceKey(keys), JSON.stringify(value))]);
}

export async function readConfigSource(rpc: EtcdRpc, keys: Keys): Promise<ConfigSourceValue | null> {
  const { kv } = await rpc.get(configSourceKey(keys));
  if (!kv) return null;
  try {
    const v = JSON.parse(kv.value.toString('utf8')) as ConfigSourceValue;
    return v?.v === 1 && (v.mode === 'folder' || v.mode === 'etcd') ? v : null;
  } catch {
    return null;
  }
}
