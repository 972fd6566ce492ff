/**
 * Flags of `watcher run` (SPEC.md "Command line"). Every flag also reads `WATCHER_<UPPER_SNAKE>`
 * from the environment; flags win over variables.
 */
import { availableParallelism, hostname } from 'node:os';
import { parseArgs } from 'node:util';
import type { AppOptions } from '../app/options.js';
import { DEFAULT_MAX_FILE_BYTES } from '../config/parse-file.js';
import { parseSize } from '../config/units.js';
import { UsageError } from '../model/errors.js';
import { isValidName, NAME_RULE } from '../model/names.js';

/** What `watcher run` parses its flags into: the app's options. */
export type RunOptions = AppOptions;

type FlagType = 'string' | 'boolean';
interface FlagSpec {
  type: FlagType;
  help: string;
  default?: string;
}

export const RUN_FLAGS: Record<string, FlagSpec> = {
  'endpoints-dir': {
    type: 'string',
    help: 'folder of *.yml/*.yaml endpoint files (not read with --config-source etcd)',
    default: './endpoints.d',
  },
  'max-file-bytes': {
    type: 'string',
    help: 'largest endpoint file loaded, bytes or a size (8MiB, 2MB)',
    default: '8MiB',
  },
  etcd: { type: 'string', help: 'comma-separated etcd client URLs; absent = standalone' },
  'etcd-ca': { type: 'string', help: 'PEM CA bundle for TLS to etcd' },
  'etcd-cert': { type: 'string', help: 'PEM client certificate (mutual TLS)' },
  'etcd-key': { type: 'string', help: 'PEM client key (mutual TLS)' },
  'etcd-user': { type: 'string', help: 'etcd user name' },
  'etcd-password': { type: 'string', help: 'etcd password' },
  cluster: { type: 'string', help: 'key prefix; several clusters can share one etcd', default: 'default' },
  id: { type: 'string', help: 'worker id, unique among live workers [hostname-pid]' },
  listen: { type: 'string', help: 'status server HOST:PORT', default: '127.0.0.1:9464' },
  advertise: {
    type: 'string',
    help: 'HOST:PORT other workers reach the status server at (needed when --listen is 0.0.0.0) [the --listen address]',
  },
  'http-token': { type: 'string', help: 'require Authorization: Bearer TOKEN for API and dashboard' },
  threads: { type: 'string', help: 'check worker threads [cores]' },
  'lease-ttl': { type: 'string', help: 'liveness lease in seconds (min 2)', default: '5' },
  capacity: { type: 'string', help: 'most jobs this worker takes [unbounded]' },
  'scaling-alert-after': {
    type: 'string',
    help: 'seconds jobs may wait for a worker before "scaling limit hit" (admin)',
    default: '30',
  },
  'on-partition': { type: 'string', help: 'continue|pause when cut off from etcd', default: 'continue' },
  'config-source': {
    type: 'string',
    help: "folder|etcd: desired endpoints from the admin's --endpoints-dir, or from etcd alone (watcher apply)",
    default: 'folder',
  },
  'results-file': { type: 'string', help: 'append every check result as a JSON line' },
  'log-level': { type: 'string', help: 'trace|debug|info|warn|error', default: 'info' },
};

export function envName(flag: string): string {
  return `WATCHER_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export function usageOf(command: string, flags: Record<string, FlagSpec>): string {
  const lines = Object.entries(flags).map(([name, f]) => {
    const left = `  --${name}${f.type === 'string' ? ' VALUE' : ''}`;
    const def = f.default !== undefined ? ` [${f.default}]` : '';
    return `${left.padEnd(28)} ${f.help}${def}  (env ${envName(name)})`;
  });
  return `Usage: watcher ${command} [options]\n\nOptions:\n${lines.join('\n')}\n${'  --help'.padEnd(28)} this text\n`;
}

/** Parse flags, then fill the gaps from the environment, then defaults. Throws UsageError. */
export function resolveFlags(
  argv: string[],
  env: NodeJS.ProcessEnv,
  flags: Record<string, FlagSpec>,
): { values: Record<string, string | boolean | undefined>; positionals: string[]; help: boolean } {
  const options: Record<string, { type: FlagType }> = { help: { type: 'boolean' } };
  for (const [name, f] of Object.entries(flags)) options[name] = { type: f.type };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values: Record<string, string | boolean | undefined> = {};
  for (const [name, f] of Object.entries(flags)) {
    const v = parsed.values[name];
    const fromEnv = env[envName(name)];
    if (v !== undefined) values[name] = v as string | boolean;
    else if (fromEnv !== undefined && fromEnv !== '')
      values[name] = f.type === 'boolean' ? fromEnv !== 'false' : fromEnv;
    else values[name] = f.default;
  }
  return { values, positionals: parsed.positionals, help: parsed.values.help === true };
}

function int(name: string, v: string | undefined, min: number): number | null {
  if (v === undefined) return null;
  if (!/^\d+$/.test(v.trim())) throw new UsageError(`--${name} must be a whole number, got '${v}'`);
  const n = Number(v);
  if (n < min) throw new UsageError(`--${name} must be at least ${min}, got ${n}`);
  return n;
}

/** `--max-file-bytes`: bytes or a size with a unit; absent = the default (8 MiB). */
export function parseMaxFileBytes(v: string | undefined): number {
  if (v === undefined) return DEFAULT_MAX_FILE_BYTES;
  const n = parseSize(/^\d+$/.test(v.trim()) ? Number(v.trim()) : v.trim());
  if (n === null) throw new UsageError(`--max-file-bytes must be a size (e.g. 8MiB, 2000000), got '${v}'`);
  return n;
}

export function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(v.trim());
  if (!m) throw new UsageError(`--listen must be HOST:PORT, got '${v}'`);
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`--listen port out of range: ${port}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function parseAdvertise(v: string | undefined): string | null {
  if (v === undefined) return null;
  const { host, port } = parseListen(v);
  if (host === '0.0.0.0' || host === '::' || port === 0)
    throw new UsageError(`--advertise must name an address peers can reach, got '${v}'`);
  return v.trim();
}

export function parseRunOptions(argv: string[], env: NodeJS.ProcessEnv): RunOptions | 'help' {
  const { values: v, positionals, help } = resolveFlags(argv, env, RUN_FLAGS);
  if (help) return 'help';
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const s = (k: string) => v[k] as string | undefined;
  /** a flag with a default in RUN_FLAGS (resolveFlags filled it in) */
  const d = (k: string) => {
    const x = s(k);
    if (x === undefined) throw new Error(`internal: --${k} has no default`);
    return x;
  };
  const etcd = s('etcd')
    ?.split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  for (const u of etcd ?? []) {
    if (!/^https?:\/\/[^/]+/.test(u))
      throw new UsageError(`--etcd URLs must start with http:// or https://, got '${u}'`);
  }
  const onPartition = s('on-partition');
  if (onPartition !== 'continue' && onPartition !== 'pause') {
    throw new UsageError(`--on-partition must be 'continue' or 'pause', got '${onPartition}'`);
  }
  const configSource = s('config-source') ?? 'folder';
  if (configSource !== 'folder' && configSource !== 'etcd')
    throw new UsageError(`--config-source must be 'folder' or 'etcd', got '${configSource}'`);
  if (configSource === 'etcd' && !(etcd && etcd.length > 0))
    throw new UsageError('--config-source etcd needs --etcd (standalone reads its folder)');
  const level = d('log-level');
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)) {
    throw new UsageError(`--log-level must be one of trace|debug|info|warn|error, got '${level}'`);
  }
  const user = s('etcd-user') ?? null;
  const password = s('etcd-password') ?? null;
  if ((user === null) !== (password === null)) {
    throw new UsageError('--etcd-user and --etcd-password go together');
  }
  const cert = s('etcd-cert') ?? null;
  const key = s('etcd-key') ?? null;
  if ((cert === null) !== (key === null)) throw new UsageError('--etcd-cert and --etcd-key go together');
  const cluster = clusterFlag(d('cluster'));
  const id = s('id') ?? `${hostname()}-${process.pid}`;
  if (!isValidName(id)) throw new UsageError(`--id must be ${NAME_RULE}, got '${id}'`);
  return {
    endpointsDir: d('endpoints-dir'),
    maxFileBytes: parseMaxFileBytes(s('max-file-bytes')),
    etcd: etcd && etcd.length > 0 ? etcd : null,
    etcdCa: s('etcd-ca') ?? null,
    etcdCert: cert,
    etcdKey: key,
    etcdUser: user,
    etcdPassword: password,
    cluster,
    id,
    listen: parseListen(d('listen')),
    advertise: parseAdvertise(s('advertise')),
    httpToken: s('http-token') ?? null,
    threads: int('threads', s('threads'), 1) ?? Math.max(1, availableParallelism()),
    leaseTtl: int('lease-ttl', d('lease-ttl'), 2) as number,
    capacity: int('capacity', s('capacity'), 1),
    scalingAlertAfter: int('scaling-alert-after', d('scaling-alert-after'), 1) as number,
    onPartition,
    configSource,
    resultsFile: s('results-file') ?? null,
    logLevel: level,
  };
}

/** `--cluster`: one rule with the keys it names (model/names.ts), for `run` and the cluster tools. */
export function clusterFlag(cluster: string): string {
  if (!isValidName(cluster)) throw new UsageError(`--cluster must be ${NAME_RULE}, got '${cluster}'`);
  return cluster;
}
