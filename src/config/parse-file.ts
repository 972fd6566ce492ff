import type { Endpoint, Schedule, SelfTargets } from '../model/endpoint.js';
import { CFG } from './codes.js';
import { didYouMean } from './did-you-mean.js';
import { mergeDefaults } from './merge.js';
import { normalizeSelf, normalizeSpec } from './normalize.js';
import { FILE_START, type Position, problem, sortProblems } from './problems.js';
import { validateFileValue } from './schema.js';
import type { ConfigProblem, RawEndpoint, RawSelf } from './types.js';
import { type Locate, type Path, parseYaml } from './yaml-file.js';

/**
 * Default of `--max-file-bytes`: a generated file of 10,000 endpoints is ~1.4 MB; 8 MiB leaves room
 * while keeping one file's parse bounded (~1 s and ~100 MB of YAML nodes at the limit).
 */
export const DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024;
export const DEFAULT_MAX_ALIAS_COUNT = 100;

export interface ParseOptions {
  /** environment for `${VAR}` (default process.env) */
  env?: NodeJS.ProcessEnv;
  /** files above this size are rejected with CFG_FILE_TOO_LARGE (default 8 MiB, `--max-file-bytes`) */
  maxFileBytes?: number;
  /** YAML alias expansion budget (yaml's maxAliasCount; default 100) */
  maxAliasCount?: number;
  /**
   * false: every endpoint is still validated and normalised (its problems and `${VAR}` values are
   * reported as usual) but only its raw definition and schedule are kept, not the normalised
   * `Endpoint`. A cluster worker runs the jobs it owns from etcd, not from its folder, and would
   * otherwise hold every endpoint of the cluster (default true).
   */
  keepEndpoints?: boolean;
}

export interface ParsedFile {
  /** empty when the file has any problem (a bad file is ignored as a whole) or with `keepEndpoints: false` */
  endpoints: Endpoint[];
  self: SelfTargets | null;
  /** the `self` block as written (null when absent or the file has any problem) */
  rawSelf: RawSelf | null;
  /** defaults merged, `${VAR}` as written; empty when the file has any problem */
  raw: RawEndpoint[];
  /** the normalised schedule of each `raw` entry, in the same order (the admin rates jobs by it) */
  schedules: Schedule[];
  problems: ConfigProblem[];
  /** values that came from `${VAR}` expansion (for log redaction); never in a message */
  secrets: string[];
}

type Spec = Record<string, unknown>;
const RESERVED = new Set(['defaults', 'self', '<<']);

function isMapping(v: unknown): v is Spec {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  return v === null ? 'nothing' : `a ${typeof v}`;
}

/** Parse, validate and normalise one endpoint file. Pure apart from reading `opts.env`. */
export function parseFile(text: string, file: string, opts: ParseOptions = {}): ParsedFile {
  const env = opts.env ?? process.env;
  const maxBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const empty = (problems: ConfigProblem[], secrets: string[] = []): ParsedFile => ({
    endpoints: [],
    self: null,
    rawSelf: null,
    raw: [],
    schedules: [],
    problems: sortProblems(problems),
    secrets,
  });
  const bytes = Buffer.byteLength(text);
  if (bytes > maxBytes) {
    return empty([
      problem(
        file,
        FILE_START,
        CFG.FILE_TOO_LARGE,
        `file is ${bytes} bytes; the limit is ${maxBytes} (--max-file-bytes)`,
      ),
    ]);
  }
  const y = parseYaml(text, file, { maxAliasCount: opts.maxAliasCount ?? DEFAULT_MAX_ALIAS_COUNT });
  if (y.problems.length > 0) return empty(y.problems);
  if (y.value === null || y.value === undefined)
    return { endpoints: [], self: null, rawSelf: null, raw: [], schedules: [], problems: [], secrets: [] };
  if (!isMapping(y.value)) {
    const msg = `a file must be a mapping of endpoints (address: fields), got ${typeName(y.value)}`;
    return empty([problem(file, y.locate([], 'value'), CFG.NOT_MAPPING, msg)]);
  }
  const doc = y.value;
  const problems: ConfigProblem[] = [];
  const secrets: string[] = [];
  const badKeys = new Set<string>();
  for (const issue of validateFileValue(doc)) {
    problems.push(problem(file, y.locate(issue.path, issue.at), issue.code, issue.message));
    badKeys.add(issue.path[0] ?? '');
  }
  for (const name of Object.keys(doc)) {
    // `default:` or `slef:` would otherwise become an endpoint at https://default
    const reserved = /[./:]/.test(name) || RESERVED.has(name) ? null : didYouMean(name, ['defaults', 'self']);
    if (reserved) {
      const msg = `unknown top-level key \`${name}\`; did you mean \`${reserved}\`? (an endpoint address looks like host[:port]/path)`;
      problems.push(problem(file, y.locate([name], 'key'), CFG.UNKNOWN_FIELD, msg));
      badKeys.add(name);
    }
  }
  const defaults = isMapping(doc.defaults) ? doc.defaults : null;
  const lines = new Map(y.keys.map((k) => [k.name, k.pos] as const));

  const keep = opts.keepEndpoints ?? true;
  const endpoints: Endpoint[] = [];
  const raw: RawEndpoint[] = [];
  const schedules: Schedule[] = [];
  // kept without their endpoints, equal schedules are one object (most endpoints share the defaults')
  const shared = new Map<string, Schedule>();
  const kept = (s: Schedule): Schedule => {
    if (keep) return s;
    const key = s.kind === 'interval' ? `${s.everyMs}` : `${s.expr}\u0000${s.timezone}`;
    const seen = shared.get(key);
    if (seen) return seen;
    shared.set(key, s);
    return s;
  };
  if (!badKeys.has('defaults') && !badKeys.has('')) {
    for (const name of Object.keys(doc)) {
      if (RESERVED.has(name) || badKeys.has(name)) continue;
      const own = isMapping(doc[name]) ? (doc[name] as Spec) : null;
      const keyPos: Position = lines.get(name) ?? { line: 1, col: 1 };
      const locate: Locate = (path: Path, at) => {
        const first = path[0];
        if (first === undefined) return y.locate([name], 'key');
        if (own && own[first] !== undefined) return y.locate([name, ...path], at);
        if (defaults && defaults[first] !== undefined) return y.locate(['defaults', ...path], at);
        return y.locate([name], 'key');
      };
      const spec = mergeDefaults(defaults, own);
      const out = normalizeSpec(name, spec, env, {
        file,
        line: keyPos.line,
        locate,
        own: new Set(Object.keys(own ?? {})),
      });
      problems.push(...out.problems);
      secrets.push(...out.secrets);
      if (out.endpoint) {
        if (keep) endpoints.push(out.endpoint);
        raw.push({ name, file, line: keyPos.line, spec });
        schedules.push(kept(out.endpoint.schedule));
      }
    }
  }
  let self: SelfTargets | null = null;
  let rawSelf: RawSelf | null = null;
  if ('self' in doc && !badKeys.has('self')) {
    const locate: Locate = (path, at) => y.locate(['self', ...path], path.length ? at : 'key');
    const line = lines.get('self')?.line ?? 1;
    const out = normalizeSelf(isMapping(doc.self) ? doc.self : null, env, {
      file,
      line,
      locate,
    });
    problems.push(...out.problems);
    secrets.push(...out.secrets);
    if (out.sinks) self = { file, sinks: out.sinks };
    rawSelf = { file, line, spec: isMapping(doc.self) ? doc.self : {} };
  }
  if (problems.length > 0) return empty(problems, secrets);
  return { endpoints, self, rawSelf, raw, schedules, problems: [], secrets };
}
