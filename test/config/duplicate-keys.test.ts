/**
 * Duplicate-key detection of yaml-file.ts (our own O(keys) pass instead of yaml's quadratic
 * `uniqueKeys`): same code, position (the repeated key) and equality as yaml's check.
 */
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../src/config/yaml-file.js';

const parse = (text: string) => parseYaml(text, 'f.yml', { maxAliasCount: 100 });
const dups = (text: string) =>
  parse(text)
    .problems.filter((p) => p.code === 'CFG_DUPLICATE_KEY')
    .map((p) => [p.line, p.col, p.message]);

describe('duplicate keys', () => {
  it('reports the repeated key where it is repeated, in block and flow mappings, at any depth', () => {
    expect(dups('a: 1\nb: 2\na: 3\n')).toEqual([
      [3, 1, 'duplicate key `a` (keys must be unique in a mapping)'],
    ]);
    expect(dups('- {a: 1, b: 2, a: 3}\n- c: 1\n  c: 2\n')).toEqual([
      [1, 16, 'duplicate key `a` (keys must be unique in a mapping)'],
      [3, 3, 'duplicate key `c` (keys must be unique in a mapping)'],
    ]);
    expect(dups('a: 1\n!!str a: 2\n')).toEqual([
      [2, 7, 'duplicate key `a` (keys must be unique in a mapping)'],
    ]);
    expect(dups('null: 1\n~: 2\n')).toHaveLength(1);
  });

  it("uses yaml's equality: typed scalars differ, merge keys and collection keys never clash", () => {
    expect(dups('1: x\n"1": y\n')).toEqual([]);
    expect(dups('x:\n  <<: {a: 1}\n  <<: {b: 2}\n')).toEqual([]);
    expect(dups('? [a]\n: 1\n? [a]\n: 2\n')).toEqual([]);
    expect(parse('x:\n  <<: {a: 1}\n  <<: {b: 2}\n').value).toEqual({ x: { a: 1, b: 2 } });
  });

  it('keeps syntax errors and duplicates in file order', () => {
    const p = parse('a: 1\na: 2\nb: [\n').problems.map((x) => [x.code, x.line]);
    expect(p).toEqual([
      ['CFG_DUPLICATE_KEY', 2],
      ['CFG_YAML_SYNTAX', 4],
    ]);
  });

  it('finds one duplicate among 20,000 keys of one mapping', () => {
    const lines: string[] = [];
    for (let i = 0; i < 20_000; i++) lines.push(`host-${i}.example.com/health:`);
    lines.push('host-17.example.com/health:');
    expect(dups(`${lines.join('\n')}\n`)).toEqual([
      [20_001, 1, 'duplicate key `host-17.example.com/health` (keys must be unique in a mapping)'],
    ]);
  });
});
