import type { ClusterStatus } from '../cluster/coordinator.js';
import { CLUSTER_FLAGS, clusterToolOptions } from './cluster-flags.js';
import { resolveFlags, usageOf } from './options.js';

const FLAGS = { ...CLUSTER_FLAGS, json: { type: 'boolean' as const, help: 'print JSON' } };

/** `watcher status`: the cluster as etcd holds it. Exit 0, or 1 when etcd cannot be read. */
export async function runStatus(argv: string[]): Promise<number> {
  const { values, help } = resolveFlags(argv, process.env, FLAGS);
  if (help) {
    process.stdout.write(usageOf('status', FLAGS));
    return 0;
  }
  const opts = clusterToolOptions(values);
  const { readClusterStatus } = await import('../cluster/etcd/index.js');
  let status: ClusterStatus;
  try {
    status = await readClusterStatus(opts);
  } catch (err) {
    process.stderr.write(`watcher status: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(
    values.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status, opts.cluster),
  );
  return 0;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Owned checks/s, and what it served while overloaded: `40` or `40 (served 33)`. */
function rates(w: ClusterStatus['workers'][number]): string {
  if (w.ownedRate === undefined) return '-';
  const owned = String(Math.round(w.ownedRate * 10) / 10);
  return w.servedRate === null || w.servedRate === undefined
    ? owned
    : `${owned} (served ${Math.round(w.servedRate)})`;
}

/** The operator commands in force, one line each (or a line saying there are none). */
export function formatCommands(cs: NonNullable<ClusterStatus['commands']>): string {
  if (cs.length === 0) return 'commands: none (no silence, pause or run-now in force)';
  return table([
    ['COMMAND', 'TARGET', 'UNTIL', 'BY', 'REASON'],
    ...cs.map((c) => [
      c.kind,
      c.endpoint ?? `tag ${c.tag}`,
      c.expires_at === null ? 'resumed' : new Date(c.expires_at).toISOString(),
      c.author,
      c.reason || '-',
    ]),
  ]);
}

export function formatStatus(s: ClusterStatus, cluster: string): string {
  const jobs = s.jobsets.reduce((n, j) => n + j.jobs, 0);
  const out: string[] = [];
  out.push(
    `cluster ${cluster}: ${s.workers.length} workers, admin ${s.admin ?? '(none)'}, ${s.jobsets.length} jobsets, ${jobs} jobs, ${s.waiting} waiting`,
  );
  if (s.etcdAlarms && s.etcdAlarms.length > 0) {
    const names = [...new Set(s.etcdAlarms.map((a) => a.alarm))].join(', ');
    out.push(
      `etcd alarm ${names} on ${s.etcdAlarms.length} member(s): etcd refuses writes, config changes are not applied (docs/RUNBOOK.md "etcd_write_refused")`,
    );
    if (s.etcdAlarms.some((a) => a.alarm === 'Nospace' || a.alarm === 'NOSPACE'))
      out.push('  fix: etcdctl compact <revision>; etcdctl defrag --cluster; etcdctl alarm disarm');
  }
  if (s.etcdWrites?.refused)
    out.push(`etcd refuses the admin's writes (${s.etcdWrites.cause}): ${s.etcdWrites.remedy}`);
  out.push('');
  out.push(
    table([
      [
        'WORKER',
        'ADDRESS',
        'JOBSETS',
        'JOBS',
        'CAPACITY',
        'LAG_P99_MS',
        'SHEDDING',
        'OVERLOADED',
        'CHECKS/S',
        'VERSION',
      ],
      ...s.workers.map((w) => [
        w.id + (w.id === s.admin ? ' (admin)' : ''),
        w.address,
        String(w.jobsets),
        String(w.jobs),
        w.capacity === null ? '-' : String(w.capacity),
        w.lagP99Ms === null ? '-' : String(Math.round(w.lagP99Ms)),
        w.shedding ? 'yes' : 'no',
        w.overloaded ? 'yes' : 'no',
        rates(w),
        w.version,
      ]),
    ]),
  );
  out.push('');
  out.push(
    table([
      ['JOBSET', 'OWNER', 'JOBS'],
      ...s.jobsets.map((j) => [j.id, j.owner ?? '(waiting)', String(j.jobs)]),
    ]),
  );
  out.push('');
  out.push(formatCommands(s.commands ?? []));
  if (s.configDrift && s.configDrift.length > 0)
    out.push(
      `config drift: ${s.configDrift.join(', ')} (endpoint folder differs from the admin's ${s.admin}; the cluster's endpoints would change if one became admin)`,
    );
  return `${out.join('\n')}\n`;
}
