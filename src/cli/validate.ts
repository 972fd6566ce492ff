import { stat } from 'node:fs/promises';
import type { ConfigProblem, ConfigSnapshot } from '../config/types.js';
import { UsageError } from '../model/errors.js';
import { parseMaxFileBytes } from './options.js';

/**
 * `watcher validate [--json] DIR_OR_FILE...`: check endpoint files without running anything.
 * Exit 0 when everything is valid, 1 when any file has a problem, 2 on usage errors (no path, an
 * unknown flag, a path that does not exist). The config module is imported lazily so that
 * `--help` and usage errors answer at once.
 */

const USAGE = `Usage: watcher validate [--json] [--env-optional] [--max-file-bytes SIZE] DIR_OR_FILE...

Checks endpoint files (a folder contributes its *.yml/*.yaml files) without running anything.
Prints one line per problem, "path:line:col: message [CODE]", then a summary.

Options:
  --json          print one JSON object {ok, summary, files, endpoints, problems, warnings}
  --env-optional  an unset \${VAR} is a warning, not a problem (CI without the production
                  secrets): the file is checked with a stand-in value, and a problem of a value
                  that uses an unset variable is a warning too
  --max-file-bytes SIZE
                  largest file loaded, bytes or a size (8MiB, 2MB) [8MiB]
                  (env WATCHER_MAX_FILE_BYTES), as for watcher run
  -h, --help      show this help

Exit status: 0 all valid (warnings allowed), 1 some file invalid, 2 usage error.
`;

/** What an unset variable stands for under --env-optional (a word: valid in a host, a key, a path). */
export const ENV_STAND_IN = 'placeholder';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.col}` : p.file;
  return `${where}: ${p.message} [${p.code}]`;
}

export function summaryLine(s: ConfigSnapshot, warnings = 0): string {
  const badFiles = new Set(s.problems.map((p) => p.file)).size;
  const head = `${plural(s.files.length, 'file')}, ${plural(s.endpoints.length, 'endpoint')}`;
  const warned = warnings > 0 ? `, ${plural(warnings, 'warning')}` : '';
  if (s.problems.length === 0) return `${head}, no problems${warned}`;
  return `${head}, ${plural(s.problems.length, 'problem')} in ${plural(badFiles, 'file')}${warned}`;
}

const ENV_MISSING = 'CFG_ENV_MISSING';
const at = (p: ConfigProblem) => `${p.file}\0${p.line}\0${p.col}`;

/**
 * --env-optional: load once with the real environment to learn which variables are unset, then
 * again with a stand-in for each; the unset variables, and problems at the same place (a value
 * that needs the real secret to be checked), become warnings.
 */
async function loadEnvOptional(
  load: (env: NodeJS.ProcessEnv) => Promise<ConfigSnapshot>,
): Promise<{ snapshot: ConfigSnapshot; warnings: ConfigProblem[] }> {
  const first = await load(process.env);
  const missing = first.problems.filter((p) => p.code === ENV_MISSING);
  if (missing.length === 0) return { snapshot: first, warnings: [] };
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const p of missing) {
    const name = /environment variable (\S+) is not set/.exec(p.message)?.[1];
    if (name) env[name] = ENV_STAND_IN;
  }
  const second = await load(env);
  const places = new Set(missing.map(at));
  const warnings = [...missing];
  const problems: ConfigProblem[] = [];
  for (const p of second.problems) (places.has(at(p)) ? warnings : problems).push(p);
  return { snapshot: { ...second, problems }, warnings };
}

interface ValidateArgs {
  json: boolean;
  envOptional: boolean;
  help: boolean;
  maxFileBytes: string | undefined;
  paths: string[];
}

function parseArgs(argv: string[], env: NodeJS.ProcessEnv): ValidateArgs {
  let json = false;
  let maxFileBytes = env.WATCHER_MAX_FILE_BYTES || undefined;
  let envOptional = false;
  let help = false;
  const paths: string[] = [];
  let flags = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (flags && a === '--') flags = false;
    else if (flags && a.startsWith('--max-file-bytes=')) maxFileBytes = a.slice('--max-file-bytes='.length);
    else if (flags && a === '--max-file-bytes') {
      maxFileBytes = argv[++i];
      if (maxFileBytes === undefined) throw new UsageError(`--max-file-bytes needs a value\n\n${USAGE}`);
    } else if (flags && a === '--json') json = true;
    else if (flags && a === '--env-optional') envOptional = true;
    else if (flags && (a === '--help' || a === '-h')) help = true;
    else if (flags && a.startsWith('-') && a !== '-')
      throw new UsageError(`unknown option '${a}'\n\n${USAGE}`);
    else paths.push(a);
  }
  return { json, envOptional, help, maxFileBytes, paths };
}

export async function runValidate(argv: string[]): Promise<number> {
  const { json, envOptional, help, paths, ...rest } = parseArgs(argv, process.env);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const maxFileBytes = parseMaxFileBytes(rest.maxFileBytes);
  if (paths.length === 0) throw new UsageError(`expected at least one DIR_OR_FILE\n\n${USAGE}`);
  for (const p of paths) {
    try {
      await stat(p);
    } catch (err) {
      throw new UsageError(`cannot read '${p}' (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const { loadFiles } = await import('../config/index.js');
  const load = (env: NodeJS.ProcessEnv) => loadFiles(paths, { env, maxFileBytes });
  const { snapshot, warnings } = envOptional
    ? await loadEnvOptional(load)
    : { snapshot: await load(process.env), warnings: [] };
  if (json) {
    const out = {
      ok: snapshot.problems.length === 0,
      summary: {
        files: snapshot.files.length,
        endpoints: snapshot.endpoints.length,
        problems: snapshot.problems.length,
        warnings: warnings.length,
        invalidFiles: new Set(snapshot.problems.map((p) => p.file)).size,
      },
      files: snapshot.files,
      endpoints: snapshot.endpoints.map((e) => e.name),
      problems: snapshot.problems,
      warnings,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    const lines = [
      ...warnings.map((w) => `warning: ${formatProblem(w)}`),
      ...snapshot.problems.map(formatProblem),
    ];
    lines.push(summaryLine(snapshot, warnings.length));
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return snapshot.problems.length > 0 ? 1 : 0;
}
