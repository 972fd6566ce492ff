/**
 * How watcher connects to etcd: client options from the flags (PEM files, user/password), their
 * validation, the etcd3 options (gRPC keepalive and reconnect settings, bounded retry policies,
 * no circuit breaker) and the mapping of client errors to stable `CLUSTER_*` codes.
 */
import { readFileSync } from 'node:fs';
import {
  EtcdAuthenticationFailedError,
  EtcdPermissionDeniedError,
  type IOptions,
  isRecoverableError,
} from 'etcd3';
import { ClusterError, ClusterErrorCode, describeError } from './errors.js';

export interface EtcdClientOptions {
  /** etcd client URLs (`http://` or `https://`) */
  endpoints: string[];
  tls?: { ca?: Buffer | undefined; cert?: Buffer | undefined; key?: Buffer | undefined } | undefined;
  auth?: { username: string; password: string } | undefined;
  /** per-attempt deadline of unary calls [1500 ms] */
  callTimeoutMs?: number;
}

const GRPC_OPTIONS = {
  // Notice a silently cut connection. etcd enforces its `--grpc-keepalive-min-time` (default 5 s;
  // our scripts, compose and docs set 2 s for margin) and never accepts pings on a connection
  // without streams (grpc-go's PermitWithoutStream is false there): pinging an idle member
  // connection earns a GOAWAY "too_many_pings" and grpc-js's plain-text "excess pings" line. So
  // pings only while calls are active (the lease keepalive and watch streams always are).
  'grpc.keepalive_time_ms': 5000,
  'grpc.keepalive_timeout_ms': 2000,
  'grpc.keepalive_permit_without_calls': 0,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 4 * 1024 * 1024,
  // Reconnect quickly after a partition heals (grpc-js defaults back off up to 120 s).
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 2000,
} as const;

type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

function noopPolicy(): Policy {
  const policy = {
    execute: <T>(fn: (ctx: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        try {
          Promise.resolve(fn({ signal: new AbortController().signal })).then(resolve, reject);
        } catch (err) {
          reject(err);
        }
      }),
  };
  return policy as unknown as Policy;
}

/** Retries recoverable errors a bounded number of times; each attempt may pick another host. */
function retryPolicy(attempts: number): Policy {
  const policy = {
    execute: async <T>(
      fn: (ctx: { signal: AbortSignal; attempt: number }) => PromiseLike<T> | T,
    ): Promise<T> => {
      let last: unknown;
      for (let attempt = 0; attempt < attempts; attempt++) {
        try {
          return await fn({ signal: new AbortController().signal, attempt });
        } catch (err) {
          last = err;
          if (!(err instanceof Error) || !isRecoverableError(err)) throw err;
        }
      }
      throw last;
    },
  };
  return policy as unknown as Policy;
}

/** Credential flags as the user gave them: PEM file paths, user and password. */
export interface EtcdCredentialFlags {
  ca?: string | null;
  cert?: string | null;
  key?: string | null;
  user?: string | null;
  password?: string | null;
}

/**
 * Reads the PEM files named by the flags (shared by `watcher run`, `status` and `apply`).
 * Throws ClusterError CLUSTER_CONFIG naming the flag and file when one cannot be read.
 */
export function credentialsFromFlags(f: EtcdCredentialFlags): Pick<EtcdClientOptions, 'tls' | 'auth'> {
  const pem = (flag: string, path: string | null | undefined): Buffer | undefined => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ClusterError(
        ClusterErrorCode.CONFIG,
        `--${flag}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  };
  const ca = pem('etcd-ca', f.ca);
  const cert = pem('etcd-cert', f.cert);
  const key = pem('etcd-key', f.key);
  return {
    tls: ca || cert ? { ca, cert, key } : undefined,
    auth: f.user && f.password ? { username: f.user, password: f.password } : undefined,
  };
}

export function validateClientOptions(opts: EtcdClientOptions): void {
  if (!Array.isArray(opts.endpoints) || opts.endpoints.length === 0) {
    throw new ClusterError(ClusterErrorCode.CONFIG, 'no etcd endpoints given');
  }
  let secure = 0;
  for (const url of opts.endpoints) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(url)) {
      throw new ClusterError(
        ClusterErrorCode.CONFIG,
        `invalid etcd URL ${JSON.stringify(url)}: expected http(s)://host:port`,
      );
    }
    if (url.startsWith('https:')) secure++;
  }
  if (secure !== 0 && secure !== opts.endpoints.length) {
    throw new ClusterError(ClusterErrorCode.CONFIG, 'etcd URLs mix http:// and https://');
  }
  if ((opts.tls?.cert && !opts.tls.key) || (opts.tls?.key && !opts.tls.cert)) {
    throw new ClusterError(ClusterErrorCode.CONFIG, '--etcd-cert and --etcd-key must be given together');
  }
  if (opts.tls && secure === 0) {
    throw new ClusterError(ClusterErrorCode.CONFIG, 'TLS options given but the etcd URLs are http://');
  }
}

/** Builds the etcd3 options (exported for tests and tools; holds credentials: never log it). */
export function buildClientOptions(opts: EtcdClientOptions): IOptions {
  validateClientOptions(opts);
  const callTimeoutMs = opts.callTimeoutMs ?? 1500;
  const hosts = opts.endpoints.map((u) => u.replace(/\/$/, ''));
  const o: IOptions = {
    hosts,
    grpcOptions: { ...GRPC_OPTIONS },
    dialTimeout: 3000,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    // Retries across members are ours (EtcdRpc); with several hosts the package retries once.
    faultHandling: {
      host: () => noopPolicy(),
      global: hosts.length > 1 ? retryPolicy(2) : noopPolicy(),
    },
  };
  const secure = hosts[0]!.startsWith('https:');
  if (secure && (opts.tls?.ca || opts.tls?.cert)) {
    const credentials: NonNullable<IOptions['credentials']> = {
      // grpc-js uses the system roots when rootCertificate is null
      rootCertificate: opts.tls?.ca ?? (null as unknown as Buffer),
    };
    if (opts.tls?.key) credentials.privateKey = opts.tls.key;
    if (opts.tls?.cert) credentials.certChain = opts.tls.cert;
    o.credentials = credentials;
  }
  if (opts.auth) {
    o.auth = {
      username: opts.auth.username,
      password: opts.auth.password,
      callOptions: () => ({ deadline: Date.now() + callTimeoutMs }),
    };
  }
  return o;
}

/** Classifies an error from etcd into a typed ClusterError (for messages and for retry decisions). */
export function classifyEtcdError(err: unknown): ClusterError {
  if (err instanceof ClusterError) return err;
  if (err instanceof EtcdAuthenticationFailedError) {
    return new ClusterError(
      ClusterErrorCode.AUTH_FAILED,
      'etcd rejected the user name or password (--etcd-user/--etcd-password)',
    );
  }
  if (err instanceof EtcdPermissionDeniedError) {
    return new ClusterError(
      ClusterErrorCode.PERMISSION_DENIED,
      'etcd denied access to the cluster key prefix (check the user role)',
    );
  }
  const text = err instanceof Error ? err.message : String(err);
  if (/user name not found|invalid user ID|authentication failed/i.test(text)) {
    return new ClusterError(
      ClusterErrorCode.AUTH_FAILED,
      'etcd rejected the user name or password (--etcd-user/--etcd-password)',
    );
  }
  if (/ssl|tls|certificate|handshake|wrong version number|self.signed|unable to verify/i.test(text)) {
    return new ClusterError(ClusterErrorCode.TLS_FAILED, `TLS to etcd failed: ${text.slice(0, 200)}`);
  }
  return new ClusterError(ClusterErrorCode.UNREACHABLE, `etcd unreachable: ${describeError(err)}`, {
    cause: err,
  });
}
