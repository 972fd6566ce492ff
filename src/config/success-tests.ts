import type { CompareOp, SuccessTest } from '../model/endpoint.js';
import { CFG } from './codes.js';
import { DEFAULTS } from './defaults.js';
import type { Problems } from './spec-problems.js';
import { isMapping, type Spec } from './spec-values.js';
import type { Path } from './yaml-file.js';

/** `success_test:` -> SuccessTest[], with the op/value combinations checked. */

const NUMERIC_OPS = new Set<CompareOp>(['==', '!=', '<', '<=', '>', '>=']);

function compareValue(
  op: CompareOp,
  value: unknown,
  hasValue: boolean,
  path: Path,
  p: Problems,
  numericOnly: boolean,
): unknown {
  const vpath = [...path, 'value'];
  if (numericOnly && !NUMERIC_OPS.has(op)) {
    p.add(
      [...path, 'op'],
      'value',
      CFG.ENUM,
      `\`${p.show([...path, 'op'])}\` must be one of ==, !=, <, <=, >, >=; got "${op}"`,
    );
    return value;
  }
  if (op === 'exists') {
    if (hasValue && typeof value !== 'boolean') {
      p.add(vpath, 'value', CFG.TYPE, `\`${p.show(vpath)}\` must be true or false with op exists`);
    }
    return hasValue ? value : true;
  }
  if (!hasValue) {
    p.add(path, 'key', CFG.REQUIRED, `\`${p.show(path)}\` is missing \`value\` (op ${op})`);
    return null;
  }
  if (numericOnly || op === '<' || op === '<=' || op === '>' || op === '>=') {
    if (typeof value !== 'number')
      p.add(vpath, 'value', CFG.TYPE, `\`${p.show(vpath)}\` must be a number with op ${op}`);
  } else if (op === 'matches') {
    if (typeof value !== 'string') {
      p.add(
        vpath,
        'value',
        CFG.TYPE,
        `\`${p.show(vpath)}\` must be a string (a regular expression) with op matches`,
      );
    } else {
      try {
        new RegExp(value);
      } catch (err) {
        // The engine's message repeats the pattern; keep only the reason.
        const reason = (err instanceof Error ? err.message : String(err)).split(': ').pop();
        p.add(vpath, 'value', CFG.REGEX, `\`${p.show(vpath)}\` is not a valid regular expression: ${reason}`);
      }
    }
  } else if (op === 'contains' && (value === null || typeof value === 'object')) {
    p.add(
      vpath,
      'value',
      CFG.TYPE,
      `\`${p.show(vpath)}\` must be a string, number or boolean with op contains`,
    );
  }
  return value;
}

export function successTests(v: unknown, p: Problems): SuccessTest[] {
  if (v === undefined || v === null) return DEFAULTS.successTests.map((t) => ({ ...t }));
  const many = Array.isArray(v);
  const items = (many ? v : [v]) as Spec[];
  // map, not push: a pushed-to array keeps room for 17 elements (~150 bytes per endpoint)
  return items.map((item, i): SuccessTest => {
    const path: Path = many ? ['success_test', i] : ['success_test'];
    if ('status_code' in item) {
      const sc = item.status_code;
      if (isMapping(sc)) {
        const op = sc.op as CompareOp;
        const value = compareValue(op, sc.value, 'value' in sc, [...path, 'status_code'], p, false);
        return { kind: 'status_code', op, value: value as number | string | boolean | null };
      } else {
        return { kind: 'status_code', op: '==', value: sc as number };
      }
    } else if ('latency_ms' in item || 'cert_expiry_days' in item || 'answer_count' in item) {
      const kind =
        'latency_ms' in item
          ? 'latency_ms'
          : 'cert_expiry_days' in item
            ? 'cert_expiry_days'
            : 'answer_count';
      const lt = item[kind] as Spec;
      const op = lt.op as CompareOp;
      const value = compareValue(op, lt.value, 'value' in lt, [...path, kind], p, true);
      return { kind, op, value: value as number };
    } else if ('answers' in item) {
      const a = item.answers as Spec;
      const op = a.op as CompareOp;
      const value = compareValue(op, a.value, 'value' in a, [...path, 'answers'], p, false);
      return { kind: 'answers', op, value };
    } else {
      const op = (item.op as CompareOp | undefined) ?? '==';
      const value = compareValue(op, item.value, 'value' in item, path, p, false);
      return { kind: 'json', key: String(item.key), op, value };
    }
  });
}
