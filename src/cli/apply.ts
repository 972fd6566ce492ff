import { UsageError } from '../model/errors.js';
import { CLUSTER_FLAGS, clusterToolOptions } from './cluster-flags.js';
import { parseMaxFileBytes, RUN_FLAGS, resolveFlags, usageOf } from './options.js';

const APPLY_FLAGS = { ...CLUSTER_FLAGS, 'max-file-bytes': RUN_FLAGS['max-file-bytes']! };

/**
 * `watcher apply DIR`: validate a folder and push it into the cluster's desired state.
 * Refuses (exit 1) when any file is invalid, so a typo never removes jobs from the cluster.
 */
export async function runApply(argv: string[]): Promise<number> {
  const { values, positionals, help } = resolveFlags(argv, process.env, APPLY_FLAGS);
  if (help) {
    process.stdout.write(usageOf('apply DIR', APPLY_FLAGS));
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
    const r = await applyDesired(opts, snapshot);
    process.stdout.write(
      `applied ${snapshot.endpoints.length} endpoints: ${r.added.length} added, ${r.changed.length} changed, ${r.removed.length} removed (${r.jobsetsWritten} jobsets written, ${r.jobsetsDeleted} deleted)\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`watcher apply: ${(err as Error).message}\n`);
    return 1;
  }
}
