import type { ConfigProblem } from './types.js';

export interface Position {
  line: number;
  col: number;
}

/** a problem of a folder or a path as a whole (no line to point at) */
export const WHOLE_FILE: Position = { line: 0, col: 0 };
/** a problem of a file's content as a whole (too large): editors jump to `file:1:1` */
export const FILE_START: Position = { line: 1, col: 1 };

export function problem(file: string, pos: Position, code: string, message: string): ConfigProblem {
  return { file, line: pos.line, col: pos.col, code, message };
}

function compare(a: ConfigProblem, b: ConfigProblem): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  if (a.line !== b.line) return a.line - b.line;
  if (a.col !== b.col) return a.col - b.col;
  if (a.code !== b.code) return a.code < b.code ? -1 : 1;
  return a.message < b.message ? -1 : a.message > b.message ? 1 : 0;
}

/** Stable order (file, line, col, code, message) without exact duplicates. */
export function sortProblems(problems: Iterable<ConfigProblem>): ConfigProblem[] {
  const sorted = [...problems].sort(compare);
  return sorted.filter((p, i) => i === 0 || compare(p, sorted[i - 1]!) !== 0);
}

/** `success_test[1].op`, `alert.failure_threshold`: a path as users read it. */
export function displayPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number' || /^\d+$/.test(seg)) out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}
