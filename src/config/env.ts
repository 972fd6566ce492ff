/**
 * `${VAR}` expansion in string values. `${VAR:-fallback}` uses the fallback when VAR is unset or
 * empty; `$${` writes a literal `${`. Values read from the environment are returned as secrets so
 * that loggers can redact them; they never appear in a problem message.
 */

type Path = (string | number)[];

export interface EnvIssue {
  path: Path;
  kind: 'missing' | 'syntax';
  /** the variable name (missing) or the offending `${...}` text as written (syntax) */
  detail: string;
}

export interface Expanded<T> {
  value: T;
  issues: EnvIssue[];
  secrets: string[];
}

const TOKEN = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const NAME = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

function expandString(s: string, env: NodeJS.ProcessEnv, path: Path, out: Expanded<unknown>): string {
  if (!s.includes('${')) return s;
  return s.replace(TOKEN, (match: string, inner: string | undefined) => {
    if (match === '$${') return '${';
    if (inner === undefined) {
      out.issues.push({ path, kind: 'syntax', detail: '${' });
      return match;
    }
    const m = NAME.exec(inner);
    if (!m) {
      out.issues.push({ path, kind: 'syntax', detail: match });
      return match;
    }
    const name = m[1]!;
    const fallback = m[2];
    const v = env[name];
    if (v !== undefined && !(fallback !== undefined && v === '')) {
      if (v !== '') out.secrets.push(v);
      return v;
    }
    if (fallback !== undefined) return fallback;
    out.issues.push({ path, kind: 'missing', detail: name });
    return '';
  });
}

function walk(v: unknown, env: NodeJS.ProcessEnv, path: Path, out: Expanded<unknown>): unknown {
  if (typeof v === 'string') return expandString(v, env, path, out);
  if (Array.isArray(v)) return v.map((x, i) => walk(x, env, [...path, i], out));
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = walk(x, env, [...path, k], out);
    return o;
  }
  return v;
}

/** Expand every string leaf (keys are left alone). Pure: the input is not modified. */
export function expandEnv<T>(value: T, env: NodeJS.ProcessEnv, basePath: Path = []): Expanded<T> {
  const out: Expanded<unknown> = { value: undefined, issues: [], secrets: [] };
  out.value = walk(value, env, basePath, out);
  return out as Expanded<T>;
}
