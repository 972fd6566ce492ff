import { stat } from 'node:fs/promises';
import type { ConfigProblem, ConfigSnapshot } from '../config/types.js';
import { UsageError } from '../model/errors.js';

/**
 * `watcher validate [--json] DIR_OR_FILE...`: check endpoint files without running anything.
 * Exit 0 when everything is valid, 1 when any file has a problem, 2 on usage errors (no path, an
 * unknown flag, a path that does not exist). The config module is imported lazily so that
 * `--help` and usage errors answer at once.
 */

const USAGE = `Usage: watcher validate [--json] DIR_OR_FILE...

Checks endpoint files (a folder contributes its *.yml/*.yaml files) without running anything.
Prints one line per problem, "path:line:col: message [CODE]", then a summary.

Options:
  --json      print one JSON object {ok, summary, files, endpoints, problems}
  -h, --help  show this help

Exit status: 0 all valid, 1 some file invalid, 2 usage error.
`;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.col}` : p.file;
  return `${where}: ${p.message} [${p.code}]`;
}

export function summaryLine(s: ConfigSnapshot): string {
  const badFiles = new Set(s.problems.map((p) => p.file)).size;
  const head = `${plural(s.files.length, 'file')}, ${plural(s.endpoints.length, 'endpoint')}`;
  if (s.problems.length === 0) return `${head}, no problems`;
  return `${head}, ${plural(s.problems.length, 'problem')} in ${plural(badFiles, 'file')}`;
}

function parseArgs(argv: string[]): { json: boolean; help: boolean; paths: string[] } {
  let json = false;
  let help = false;
  const paths: string[] = [];
  let flags = true;
  for (const a of argv) {
    if (flags && a === '--') flags = false;
    else if (flags && a === '--json') json = true;
    else if (flags && (a === '--help' || a === '-h')) help = true;
    else if (flags && a.startsWith('-') && a !== '-')
      throw new UsageError(`unknown option '${a}'\n\n${USAGE}`);
    else paths.push(a);
  }
  return { json, help, paths };
}

export async function runValidate(argv: string[]): Promise<number> {
  const { json, help, paths } = parseArgs(argv);
  if (help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (paths.length === 0) throw new UsageError(`expected at least one DIR_OR_FILE\n\n${USAGE}`);
  for (const p of paths) {
    try {
      await stat(p);
    } catch (err) {
      throw new UsageError(`cannot read '${p}' (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const { loadFiles } = await import('../config/index.js');
  const snapshot = await loadFiles(paths);
  if (json) {
    const out = {
      ok: snapshot.problems.length === 0,
      summary: {
        files: snapshot.files.length,
        endpoints: snapshot.endpoints.length,
        problems: snapshot.problems.length,
        invalidFiles: new Set(snapshot.problems.map((p) => p.file)).size,
      },
      files: snapshot.files,
      endpoints: snapshot.endpoints.map((e) => e.name),
      problems: snapshot.problems,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    const lines = snapshot.problems.map(formatProblem);
    lines.push(summaryLine(snapshot));
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return snapshot.problems.length > 0 ? 1 : 0;
}
