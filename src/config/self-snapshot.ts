/**
 * `--config-source etcd`: the `self` blocks `watcher apply` stored in etcd, as the snapshot a worker
 * runs on. It names no endpoint (a worker's endpoints are the jobs it owns) and no file (the worker
 * reads no folder); the sinks are normalised with this worker's environment, as jobs from etcd are.
 * A block that is invalid here (a `${VAR}` this worker lacks, a field a newer version wrote) gives
 * its problems and no sinks, like a bad file; the other blocks keep working.
 */
import type { SelfTargets } from '../model/endpoint.js';
import { normalizeSelf } from './normalize.js';
import { type Position, problem, sortProblems } from './problems.js';
import { validateFileValue } from './schema.js';
import type { ConfigProblem, ConfigSnapshot, RawSelf } from './types.js';

export function selfSnapshot(blocks: readonly RawSelf[], env: NodeJS.ProcessEnv): ConfigSnapshot {
  const self: SelfTargets[] = [];
  const problems: ConfigProblem[] = [];
  const secrets = new Set<string>();
  for (const b of blocks) {
    const at: Position = { line: b.line, col: 1 };
    const issues = validateFileValue({ self: b.spec });
    if (issues.length > 0) {
      problems.push(...issues.map((i) => problem(b.file, at, i.code, i.message)));
      continue;
    }
    const out = normalizeSelf(b.spec, env, { file: b.file, line: b.line, locate: () => at });
    for (const s of out.secrets) secrets.add(s);
    if (out.sinks) self.push({ file: b.file, sinks: out.sinks });
    problems.push(...out.problems);
  }
  return {
    endpoints: [],
    self,
    problems: sortProblems(problems),
    files: [],
    raw: new Map(),
    rawSelf: [...blocks],
    secrets,
  };
}
