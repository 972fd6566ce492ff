import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
  type YAMLError,
  YAMLParseError,
} from 'yaml';
import { CFG } from './codes.js';
import { type Position, problem } from './problems.js';
import type { ConfigProblem } from './types.js';

/**
 * YAML text -> JS value, keeping the document and line index so that any path in the value can be
 * turned back into a line and column. Syntax errors, duplicate keys, unquoted cron expressions and
 * alias bombs become coded problems here.
 */

export type Path = readonly (string | number)[];
export type Locate = (path: Path, at: 'key' | 'value') => Position;

export interface YamlFile {
  /** the parsed value (undefined when there are problems) */
  value: unknown;
  problems: ConfigProblem[];
  locate: Locate;
  /** top-level keys in file order with their key position */
  keys: { name: string; pos: Position }[];
}

export interface YamlLimits {
  maxAliasCount: number;
}

const MAX_SYNTAX_PROBLEMS = 10;
// `cron_schedule: */5 * * * *` or `- * * * * *`: a value starting with `*` followed by 4-5 more fields.
const UNQUOTED_CRON = /^(\s*(?:-\s+)?(?:([^\s#:][^#:]*?):\s+)?)(\*\S*(?:[ \t]+[^\s#]+){4,5})[ \t]*(?:#.*)?$/;

function keyText(n: unknown): string {
  if (isScalar(n)) return String(n.value);
  return String(n);
}

function lineText(text: string, offset: number): { start: number; line: string } {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  let end = text.indexOf('\n', offset);
  if (end < 0) end = text.length;
  return { start, line: text.slice(start, end).replace(/\r$/, '') };
}

function yamlErrorProblems(
  text: string,
  file: string,
  errors: YAMLError[],
  lc: LineCounter,
): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const seenLines = new Set<number>();
  for (const e of errors) {
    const offset = Math.min(e.pos[0], text.length);
    const pos = lc.linePos(offset);
    if (seenLines.has(pos.line)) continue;
    seenLines.add(pos.line);
    const { start, line } = lineText(text, offset);
    const cron = UNQUOTED_CRON.exec(line);
    if (cron && (e.code === 'BAD_ALIAS' || e.code === 'UNEXPECTED_TOKEN' || /alias/i.test(e.message))) {
      const key = cron[2] ?? 'cron_schedule';
      out.push(
        problem(
          file,
          lc.linePos(start + cron[1]!.length),
          CFG.YAML_ALIAS_UNQUOTED_CRON,
          `quote the cron expression: ${key}: "${cron[3]}" (unquoted, YAML reads a leading * as an alias)`,
        ),
      );
    } else if (e.code === 'DUPLICATE_KEY') {
      const rest = text.slice(offset, start + line.length);
      const m = /^("(?:[^"\\]|\\.)*"|'[^']*'|[^:]*?)\s*:(?:\s|$)/.exec(rest);
      const key = (m?.[1] ?? rest).trim();
      out.push(
        problem(file, pos, CFG.DUPLICATE_KEY, `duplicate key \`${key}\` (keys must be unique in a mapping)`),
      );
    } else if (e.code === 'MULTIPLE_DOCS') {
      out.push(
        problem(file, pos, CFG.YAML_SYNTAX, 'YAML: a file must hold one document (found a second `---`)'),
      );
    } else {
      out.push(problem(file, pos, CFG.YAML_SYNTAX, `YAML: ${e.message.split('\n')[0]}`));
    }
    if (out.length >= MAX_SYNTAX_PROBLEMS) break;
  }
  return out;
}

function makeLocate(doc: Document, lc: LineCounter): Locate {
  const posOf = (n: Node | null | undefined): Position | null => (n?.range ? lc.linePos(n.range[0]) : null);
  return (path, at) => {
    let node: unknown = doc.contents;
    let best: Position = { line: 1, col: 1 };
    for (let i = 0; i < path.length; i++) {
      if (isAlias(node)) node = node.resolve(doc);
      const seg = path[i]!;
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
        if (!pair) return best;
        const kp = posOf(pair.key as Node);
        if (kp) best = kp;
        if (last && at === 'key') return best;
        node = pair.value;
        if (last) return posOf(node as Node) ?? best;
      } else if (isSeq(node)) {
        const item = node.items[Number(seg)];
        if (item === undefined) return best;
        const p = posOf(item as Node);
        if (p) best = p;
        node = item;
        if (last) return best;
      } else {
        return best;
      }
    }
    return path.length === 0 ? (posOf(doc.contents as Node) ?? best) : best;
  };
}

/**
 * Duplicate keys of every mapping, as yaml's own `uniqueKeys` reports them (same code, message and
 * position: the start of the repeated key), in O(keys) per mapping: yaml's check compares each key
 * with every earlier one, which took seconds for files of a few thousand endpoints. Equality is
 * yaml's: scalar keys with strictly equal values (so `1` and `"1"` differ, `null` and `~` do not);
 * collection keys, aliases and merge keys (`<<`, a fresh Symbol each) are never duplicates.
 */
function duplicateKeyErrors(doc: Document): YAMLParseError[] {
  const out: YAMLParseError[] = [];
  // a plain walk: yaml's visit() builds a frozen path array per node, a third of this pass's cost
  const walk = (node: unknown): void => {
    if (isMap(node)) {
      const seen = node.items.length > 1 ? new Set<unknown>() : null;
      for (const pair of node.items) {
        const key = pair.key;
        if (seen && isScalar(key)) {
          const v = key.value;
          if (typeof v !== 'symbol' && !(typeof v === 'number' && Number.isNaN(v))) {
            if (seen.has(v)) {
              const at = key.range?.[0] ?? 0;
              out.push(new YAMLParseError([at, at + 1], 'DUPLICATE_KEY', 'Map keys must be unique'));
            } else {
              seen.add(v);
            }
          }
        }
        walk(key);
        walk(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) walk(item);
    } else if (isPair(node)) {
      walk(node.key);
      walk(node.value);
    }
  };
  walk(doc.contents);
  return out;
}

export function parseYaml(text: string, file: string, limits: YamlLimits): YamlFile {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, merge: true, uniqueKeys: false });
  const dups = duplicateKeyErrors(doc);
  const errors =
    dups.length === 0 ? doc.errors : [...doc.errors, ...dups].sort((a, b) => a.pos[0] - b.pos[0]);
  const locate = makeLocate(doc, lc);
  const keys: YamlFile['keys'] = [];
  if (errors.length > 0) {
    return { value: undefined, problems: yamlErrorProblems(text, file, errors, lc), locate, keys };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: limits.maxAliasCount });
  } catch (err) {
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      let at: Position = { line: 1, col: 1 };
      visit(doc, {
        Alias(_k, n) {
          if (n.range) at = lc.linePos(n.range[0]);
          return visit.BREAK;
        },
      });
      const msg = `too many YAML aliases: expanding them exceeds the limit (${limits.maxAliasCount}); the file looks like an alias bomb`;
      return { value: undefined, problems: [problem(file, at, CFG.TOO_MANY_ALIASES, msg)], locate, keys };
    }
    const msg = `YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
    return {
      value: undefined,
      problems: [problem(file, { line: 1, col: 1 }, CFG.YAML_SYNTAX, msg)],
      locate,
      keys,
    };
  }
  if (isMap(doc.contents)) {
    for (const p of doc.contents.items) {
      const kp = (p.key as Node | null)?.range;
      keys.push({ name: keyText(p.key), pos: kp ? lc.linePos(kp[0]) : { line: 1, col: 1 } });
    }
  }
  return { value, problems: [], locate, keys };
}
