import { CFG } from './codes.js';
import type { EnvIssue } from './env.js';
import type { LimitIssue } from './limits.js';
import { displayPath, problem } from './problems.js';
import type { ConfigProblem } from './types.js';
import type { Locate, Path } from './yaml-file.js';

/** Where the spec being normalised was written, and how its problems are positioned and shown. */
export interface NormalizeContext {
  file: string;
  /** 1-based line of the endpoint key */
  line: number;
  /** position of a path relative to the endpoint (or to `self`) */
  locate: Locate;
  /** shown before paths in messages: '' for endpoints, 'self' for the self block */
  prefix?: string;
  /** fields written on the endpoint itself (not inherited from `defaults`); see checkProbeFields */
  own?: ReadonlySet<string>;
}

/** The problems of one spec, each positioned through the context's `locate`. */
export class Problems {
  readonly list: ConfigProblem[] = [];
  constructor(private readonly ctx: NormalizeContext) {}
  add(path: Path, at: 'key' | 'value', code: string, message: string): void {
    this.list.push(problem(this.ctx.file, this.ctx.locate(path, at), code, message));
  }
  show(path: Path): string {
    return displayPath(this.ctx.prefix ? [this.ctx.prefix, ...path] : path);
  }
}

export function addLimits(p: Problems, code: string, issues: LimitIssue[]): void {
  for (const i of issues) p.add(i.path, i.path.length === 0 ? 'key' : 'value', code, i.message);
}

/** `${VAR}` references that are unset or malformed. */
export function envProblems(issues: EnvIssue[], p: Problems): void {
  for (const i of issues) {
    if (i.kind === 'missing') {
      p.add(
        i.path,
        'value',
        CFG.ENV_MISSING,
        `environment variable ${i.detail} is not set (used by \`${p.show(i.path)}\`)`,
      );
    } else {
      p.add(
        i.path,
        'value',
        CFG.ENV_SYNTAX,
        `\`${p.show(i.path)}\`: malformed \${...}; write \${NAME}, \${NAME:-fallback}, or $\${ for a literal \${`,
      );
    }
  }
}
