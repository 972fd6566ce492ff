import { UsageError } from '../model/errors.js';
import { CLUSTER_FLAGS, clusterToolOptions } from './cluster-flags.js';
import { parseMaxFileBytes, RUN_FLAGS, resolveFlags, usageOf } from './options.js';

/**
 * `watcher apply DIR`: validate a folder and push it into the cluster's desired state (its
 * endpoints and its `self` blocks).
 * Refuses (exit 1) when any file is invalid, so a typo never removes jobs from the cluster.
 */
const FLAGS = {
  ...CLUSTER_FLAGS,
  'max-file-bytes': RUN_FLAGS['max-file-bytes']!,
  'dry-run': { type: 'boolean' as const, help: 'print what would change; write nothing' },
};

const SELF_MARK = { added: '+', changed: '~', removed: '-' } as const;
const SELF_VERB = { added: 'to add', changed: 'to change', removed: 'to remove' } as const;

export async function runApply(argv: string[]): Promise<number> {
  const { values, positionals, help } = resolveFlags(argv, process.env, FLAGS);
  if (help) {
    process.stdout.write(usageOf('apply DIR', FLAGS));
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('expected exactly one DIR');
  const opts = clusterToolOptions(values);
  const maxFileBytes = parseMaxFileBytes(values['max-file-bytes'] as string | undefined);
  const { loadDir } = await import('../config/index.js');
  const snapshot = await loadDir(positionals[0]!, { env: process.env, maxFileBytes });
  if (snapshot.problems.length > 0) {
    for (const p of snapshot.problems)
      process.stderr.write(`${p.file}:${p.line}:${p.col}: ${p.message} [${p.code}]\n`);
    process.stderr.write(`watcher apply: ${snapshot.problems.length} problems; nothing applied\n`);
    return 1;
  }
  const { applyDesired } = await import('../cluster/etcd/index.js');
  try {
    const dryRun = values['dry-run'] === true;
    const r = await applyDesired(opts, snapshot, dryRun);
    if (dryRun) {
      const lines = [
        ...r.added.map((n) => `+ ${n}`),
        ...r.changed.map((n) => `~ ${n}`),
        ...r.removed.map((n) => `- ${n}`),
        ...(r.self ? [`${SELF_MARK[r.self]} self (sinks of the workers' own events)`] : []),
      ];
      process.stdout.write(
        `${lines.join('\n')}${lines.length ? '\n' : ''}dry run: ${r.added.length} to add, ${r.changed.length} to change, ${r.removed.length} to remove${r.self ? `, self block ${SELF_VERB[r.self]}` : ''}; nothing written\n`,
      );
      return 0;
    }
    process.stdout.write(
      `applied ${snapshot.endpoints.length} endpoints: ${r.added.length} added, ${r.changed.length} changed, ${r.removed.length} removed (${r.jobsetsWritten} jobsets written, ${r.jobsetsDeleted} deleted); self block ${r.self ?? 'unchanged'}\n`,
    );
    return 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    process.stderr.write(
      `watcher apply: ${(err as Error).message}${typeof code === 'string' ? ` [${code}]` : ''}\n`,
    );
    return 1;
  }
}
