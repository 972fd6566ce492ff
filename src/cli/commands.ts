/**
 * Operator commands: `watcher silence`, `unsilence`, `pause`, `resume`, `run-now`. Each writes to
 * (or deletes from) `/watcher/<cluster>/commands/` in etcd; the endpoint's owner carries it out
 * (src/cluster/etcd/commands.ts). Exit 0 done, 1 refused or failed (unknown endpoint, etcd), 2 usage.
 */
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import type { ClusterToolOptions, CommandValue } from '../cluster/etcd/index.js';
import { parseDuration } from '../config/units.js';
import { UsageError } from '../model/errors.js';
import { CLUSTER_FLAGS, clusterToolOptions } from './cluster-flags.js';
import { resolveFlags, usageOf } from './options.js';

const AUTHOR = {
  author: { type: 'string' as const, help: 'who gives the command (default: user@host)' },
};
const REASON = {
  reason: { type: 'string' as const, help: 'why (stored with the command, shown by watcher status)' },
};
const FOR = { for: { type: 'string' as const, help: 'how long, e.g. 30m, 1h, 2h30m' } };
const TAG = {
  tag: { type: 'string' as const, help: 'every endpoint with this tag instead of one ENDPOINT' },
};

const FLAGS = {
  silence: { ...CLUSTER_FLAGS, ...TAG, ...FOR, ...REASON, ...AUTHOR },
  unsilence: { ...CLUSTER_FLAGS, ...TAG, ...AUTHOR },
  pause: { ...CLUSTER_FLAGS, ...FOR, ...REASON, ...AUTHOR },
  resume: { ...CLUSTER_FLAGS, ...AUTHOR },
  'run-now': {
    ...CLUSTER_FLAGS,
    ...AUTHOR,
    timeout: { type: 'string' as const, help: 'how long to wait for the result', default: '10s' },
    json: { type: 'boolean' as const, help: 'print the result as JSON' },
  },
};
type Name = keyof typeof FLAGS;
const USAGE: Record<Name, string> = {
  silence: 'silence ENDPOINT|--tag TAG --for DURATION --reason TEXT',
  unsilence: 'unsilence ENDPOINT|--tag TAG',
  pause: 'pause ENDPOINT [--for DURATION] [--reason TEXT]',
  resume: 'resume ENDPOINT',
  'run-now': 'run-now ENDPOINT',
};

/** A refusal of the cluster (unknown endpoint): exit 1 with a clear message. */
class Refused extends Error {}

function author(values: Record<string, string | boolean | undefined>): string {
  const given = values.author as string | undefined;
  if (given) return given;
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers)
  }
  return `${user}@${hostname()}`;
}

function positiveDuration(v: string | boolean | undefined, flag: string, required: boolean): number | null {
  if (v === undefined) {
    if (required) throw new UsageError(`--${flag} DURATION is required (e.g. --${flag} 1h)`);
    return null;
  }
  const ms = typeof v === 'string' ? parseDuration(v) : null;
  if (ms === null || ms <= 0)
    throw new UsageError(`--${flag} must be a positive duration like 30m or 1h; got ${JSON.stringify(v)}`);
  return ms;
}

function target(
  positionals: string[],
  tag: string | undefined,
  allowTag: boolean,
): { endpoint: string | null; tag: string | null } {
  if (allowTag && tag !== undefined) {
    if (positionals.length > 0) throw new UsageError('give either ENDPOINT or --tag TAG, not both');
    if (!tag) throw new UsageError('--tag needs a value');
    return { endpoint: null, tag };
  }
  if (positionals.length !== 1)
    throw new UsageError(`expected exactly one ENDPOINT${allowTag ? ' (or --tag TAG)' : ''}`);
  return { endpoint: positionals[0]!, tag: null };
}

function newId(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export function commandRunner(name: Name): (argv: string[]) => Promise<number> {
  return async (argv) => {
    const flags = FLAGS[name];
    const { values, positionals, help } = resolveFlags(argv, process.env, flags);
    if (help) {
      process.stdout.write(usageOf(USAGE[name], flags));
      return 0;
    }
    const opts = clusterToolOptions(values);
    const t = target(
      positionals,
      values.tag as string | undefined,
      name === 'silence' || name === 'unsilence',
    );
    const forMs = positiveDuration(values.for, 'for', name === 'silence');
    const reason = (values.reason as string | undefined) ?? '';
    if (name === 'silence' && !reason)
      throw new UsageError('--reason TEXT is required (say why, for whoever looks next)');
    const timeoutMs = name === 'run-now' ? positiveDuration(values.timeout ?? '10s', 'timeout', true)! : 0;
    try {
      return await carryOut(name, opts, t, {
        forMs,
        reason,
        author: author(values),
        timeoutMs,
        json: values.json === true,
      });
    } catch (err) {
      process.stderr.write(`watcher ${name}: ${(err as Error).message}\n`);
      return 1;
    }
  };
}

async function carryOut(
  name: Name,
  opts: ClusterToolOptions,
  t: { endpoint: string | null; tag: string | null },
  o: { forMs: number | null; reason: string; author: string; timeoutMs: number; json: boolean },
): Promise<number> {
  const etcd = await import('../cluster/etcd/index.js');
  const keys = new etcd.Keys(opts.cluster);
  const { connectEtcd } = await import('../cluster/etcd/client.js');
  const rpc = await connectEtcd(opts, keys.admin, opts.connectTimeoutMs ?? 5000);
  try {
    const now = Date.now();
    const base = { v: 1 as const, id: newId(), author: o.author, reason: o.reason, created_at: now };
    const expires_at = o.forMs === null ? null : now + o.forMs;
    if (t.endpoint !== null) {
      const desired = await etcd.desiredEndpoints(rpc, keys);
      // unsilence/resume of a removed endpoint must still work: they only delete
      if (!desired.has(t.endpoint) && name !== 'unsilence' && name !== 'resume')
        throw new Refused(
          `unknown endpoint ${JSON.stringify(t.endpoint)}: it is not in the cluster's desired state of cluster ${opts.cluster} (watcher status lists the jobsets)`,
        );
    } else if (name === 'silence') {
      const desired = await etcd.desiredEndpoints(rpc, keys);
      const n = [...desired.values()].filter((r) => etcd.rawTags(r).includes(t.tag!)).length;
      if (n === 0)
        throw new Refused(`no endpoint of cluster ${opts.cluster} has the tag ${JSON.stringify(t.tag)}`);
    }
    switch (name) {
      case 'silence': {
        const c: CommandValue = { ...base, kind: 'silence', endpoint: t.endpoint, tag: t.tag, expires_at };
        await etcd.putCommand(rpc, keys, c);
        process.stdout.write(
          `silenced ${t.endpoint ?? `tag ${t.tag}`} until ${new Date(expires_at!).toISOString()} (id ${c.id}, by ${o.author}: ${o.reason})\n`,
        );
        return 0;
      }
      case 'unsilence': {
        const gone = (await etcd.listCommands(rpc, keys)).filter(
          (c) => c.kind === 'silence' && (t.endpoint !== null ? c.endpoint === t.endpoint : c.tag === t.tag),
        );
        await etcd.deleteCommands(rpc, keys, gone);
        process.stdout.write(`removed ${gone.length} silence(s) of ${t.endpoint ?? `tag ${t.tag}`}\n`);
        return 0;
      }
      case 'pause': {
        await etcd.putCommand(rpc, keys, { ...base, kind: 'pause', endpoint: t.endpoint!, expires_at });
        process.stdout.write(
          `paused ${t.endpoint} ${expires_at === null ? 'until resumed' : `until ${new Date(expires_at).toISOString()}`} (by ${o.author})\n`,
        );
        return 0;
      }
      case 'resume': {
        const gone = (await etcd.listCommands(rpc, keys)).filter(
          (c) => c.kind === 'pause' && c.endpoint === t.endpoint,
        );
        await etcd.deleteCommands(rpc, keys, gone);
        process.stdout.write(gone.length > 0 ? `resumed ${t.endpoint}\n` : `${t.endpoint} was not paused\n`);
        return 0;
      }
      case 'run-now': {
        const expires = now + etcd.RUN_NOW_TTL_S * 1000;
        await etcd.putCommand(rpc, keys, {
          ...base,
          kind: 'run-now',
          endpoint: t.endpoint!,
          expires_at: expires,
        });
        const res = await etcd.waitRunResult(rpc, keys, base.id, o.timeoutMs);
        if (!res) {
          process.stderr.write(
            `watcher run-now: no result from the owner of ${t.endpoint} within ${o.timeoutMs} ms (is it owned? watcher status); the request expires by itself\n`,
          );
          return 1;
        }
        const r = res.result;
        process.stdout.write(
          o.json
            ? `${JSON.stringify(res)}\n`
            : `${r.endpoint}: ${r.ok ? 'ok' : `failed: ${r.error}`} (status ${r.status_code ?? '-'}, ${Math.round(r.duration_ms * 10) / 10} ms, by ${res.worker})\n`,
        );
        return r.ok ? 0 : 1;
      }
    }
  } finally {
    rpc.close();
  }
}
