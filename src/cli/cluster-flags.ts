import { readFileSync } from 'node:fs';
import type { ClusterToolOptions } from '../cluster/etcd/index.js';
import { UsageError } from '../model/errors.js';
import { RUN_FLAGS } from './options.js';

/** The flags `status` and `apply` share with `run` to reach the cluster. */
export const CLUSTER_FLAGS = Object.fromEntries(
  ['etcd', 'etcd-ca', 'etcd-cert', 'etcd-key', 'etcd-user', 'etcd-password', 'cluster'].map((k) => [
    k,
    RUN_FLAGS[k]!,
  ]),
);

function readPem(flag: string, path: string | undefined): Buffer | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`--${flag}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

export function clusterToolOptions(values: Record<string, string | boolean | undefined>): ClusterToolOptions {
  const s = (k: string) => values[k] as string | undefined;
  const etcd = s('etcd')
    ?.split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  if (!etcd || etcd.length === 0) throw new UsageError('--etcd URLS is required (or WATCHER_ETCD)');
  const ca = readPem('etcd-ca', s('etcd-ca'));
  const cert = readPem('etcd-cert', s('etcd-cert'));
  const key = readPem('etcd-key', s('etcd-key'));
  const user = s('etcd-user');
  const password = s('etcd-password');
  if ((user === undefined) !== (password === undefined))
    throw new UsageError('--etcd-user and --etcd-password go together');
  return {
    endpoints: etcd,
    cluster: s('cluster') ?? 'default',
    tls: ca || cert ? { ca, cert, key } : undefined,
    auth: user && password ? { username: user, password } : undefined,
  };
}
