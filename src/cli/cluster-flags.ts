import { type ClusterToolOptions, credentialsFromFlags } from '../cluster/etcd/index.js';
import { UsageError } from '../model/errors.js';
import { clusterFlag, RUN_FLAGS } from './options.js';

/** The flags `status` and `apply` share with `run` to reach the cluster (`--etcd` is required here). */
export const CLUSTER_FLAGS = Object.fromEntries(
  ['etcd', 'etcd-ca', 'etcd-cert', 'etcd-key', 'etcd-user', 'etcd-password', 'cluster'].map((k) => [
    k,
    k === 'etcd'
      ? { ...RUN_FLAGS.etcd!, help: 'comma-separated etcd client URLs (required)' }
      : RUN_FLAGS[k]!,
  ]),
);

export function clusterToolOptions(values: Record<string, string | boolean | undefined>): ClusterToolOptions {
  const s = (k: string) => values[k] as string | undefined;
  const etcd = s('etcd')
    ?.split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  if (!etcd || etcd.length === 0) throw new UsageError('--etcd URLS is required (or WATCHER_ETCD)');
  const user = s('etcd-user');
  const password = s('etcd-password');
  if ((user === undefined) !== (password === undefined))
    throw new UsageError('--etcd-user and --etcd-password go together');
  let credentials: ReturnType<typeof credentialsFromFlags>;
  try {
    credentials = credentialsFromFlags({
      ca: s('etcd-ca'),
      cert: s('etcd-cert'),
      key: s('etcd-key'),
      user,
      password,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return {
    endpoints: etcd,
    cluster: clusterFlag(s('cluster') ?? 'default'),
    ...credentials,
  };
}
