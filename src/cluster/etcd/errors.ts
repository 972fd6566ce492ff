import { WatcherError } from '../../model/errors.js';

/**
 * Stable codes of cluster errors. Users and tests match on `code`; messages never contain secrets.
 */
export const ClusterErrorCode = {
  /** bad coordinator/client options (cluster name, worker id, TTL, URLs) */
  CONFIG: 'CLUSTER_CONFIG',
  /** `watcher apply` on a cluster whose desired state comes from the admin's folder */
  CONFIG_SOURCE: 'CLUSTER_CONFIG_SOURCE',
  /** another live worker is registered under the same `--id` */
  ID_IN_USE: 'CLUSTER_ID_IN_USE',
  /** etcd rejected the user name or password */
  AUTH_FAILED: 'CLUSTER_AUTH_FAILED',
  /** authenticated, but the user may not read/write the cluster's key prefix */
  PERMISSION_DENIED: 'CLUSTER_PERMISSION_DENIED',
  /** TLS handshake failed (unknown CA, bad client certificate, https/http mismatch) */
  TLS_FAILED: 'CLUSTER_TLS_FAILED',
  /** no etcd member answered within the deadline */
  UNREACHABLE: 'CLUSTER_UNREACHABLE',
  /** the coordinator was stopped while starting */
  STOPPED: 'CLUSTER_STOPPED',
} as const;

export type ClusterErrorCode = (typeof ClusterErrorCode)[keyof typeof ClusterErrorCode];

export class ClusterError extends WatcherError {
  constructor(code: ClusterErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ClusterError';
  }
}

/** True for errors that retrying cannot fix (bad credentials, TLS, permissions, config). */
export function isPermanentClusterError(err: unknown): err is ClusterError {
  return (
    err instanceof ClusterError &&
    (err.code === ClusterErrorCode.AUTH_FAILED ||
      err.code === ClusterErrorCode.PERMISSION_DENIED ||
      err.code === ClusterErrorCode.TLS_FAILED ||
      err.code === ClusterErrorCode.CONFIG ||
      err.code === ClusterErrorCode.ID_IN_USE)
  );
}

/** A short, secret-free description of any error for logs. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`.slice(0, 300);
  return String(err).slice(0, 300);
}

/** Why etcd itself refused a write, and what the operator does about it. */
export interface WriteRefusal {
  /** stable label of `watcher_etcd_write_errors_total{cause}` */
  cause: 'nospace' | 'too_large' | 'too_many_requests' | 'corrupt';
  remedy: string;
}

const NOSPACE_REMEDY =
  'etcd is out of space (alarm NOSPACE, --quota-backend-bytes reached): compact (`etcdctl compact $(etcdctl endpoint status --write-out=json | jq ".[0].Status.header.revision")`), defragment every member (`etcdctl defrag --cluster`), then `etcdctl alarm disarm`; raise --quota-backend-bytes if it fills again';

/**
 * A write refused by etcd for a reason that lasts until an operator acts (as opposed to a network
 * error or a lost election), or null. Matched on etcd's own messages (`etcdserver: ...`).
 */
export function writeRefusalOf(err: unknown): WriteRefusal | null {
  const text =
    err instanceof Error
      ? `${err.message} ${String((err as { details?: unknown }).details ?? '')}`
      : String(err);
  if (/database space exceeded|\bNOSPACE\b|no space/i.test(text))
    return { cause: 'nospace', remedy: NOSPACE_REMEDY };
  if (/request is too large/i.test(text))
    return {
      cause: 'too_large',
      remedy: 'a transaction is larger than etcd --max-request-bytes: raise it, or split the endpoint files',
    };
  if (/too many requests/i.test(text))
    return {
      cause: 'too_many_requests',
      remedy: 'etcd is applying writes slower than they come: check its disk and the number of writers',
    };
  if (/corrupt/i.test(text))
    return {
      cause: 'corrupt',
      remedy: 'etcd raised the CORRUPT alarm: restore the affected member from a snapshot',
    };
  return null;
}
