/**
 * Values of several types are `anyOf` branches in the schema (ajv's strict mode refuses
 * `type: [a, b]`); the loader still says one thing per mistake: the union of the types when none
 * matches, the matching branch's own complaint otherwise.
 */
import { describe, expect, it } from 'vitest';
import { validateFileValue } from '../../src/config/schema.js';

const messages = (fields: Record<string, unknown>) =>
  validateFileValue({ 'http://127.0.0.1:1/': fields }).map((i) => i.message);

describe('union-typed fields', () => {
  it.each([
    [{ interval: true }, '`interval` must be a string or a number, got a boolean'],
    [
      { interval: '5x' },
      '`interval`: "5x" is not a duration (write e.g. 500ms, 5s, 2m, 1h; a number means seconds)',
    ],
    [
      { interval: -1 },
      '`interval`: -1 is not a duration (write e.g. 500ms, 5s, 2m, 1h; a number means seconds)',
    ],
    [
      { success_test: { status_code: 'abc' } },
      '`success_test.status_code` must be an integer or a mapping, got a string',
    ],
    [{ success_test: { status_code: 700 } }, '`success_test.status_code` must be <= 599; got 700'],
    [{ success_test: 'x' }, '`success_test` must be a mapping or a list, got a string'],
    [{ success_test: [] }, '`success_test` must not be empty'],
    [{ body: 5 }, '`body` must be a string, a mapping or a list, got an integer'],
    [{ headers: { a: [1] } }, '`headers.a` must be a string, a number or true or false, got a list'],
    [{ tags: 5 }, '`tags` must be a list or a string, got an integer'],
  ])('%j', (fields, message) => {
    expect(messages(fields)).toEqual([message]);
  });

  it('accepts every branch', () => {
    for (const f of [
      { interval: '5s' },
      { interval: 5 },
      { success_test: { status_code: 200 } },
      { success_test: { status_code: { op: '<', value: 500 } } },
      { success_test: [{ status_code: 200 }] },
      { body: 'x' },
      { body: { a: 1 } },
      { body: [1] },
      { headers: { a: 'x', b: 1, c: true } },
      { tags: 'a' },
      { tags: ['a', 'b'] },
    ])
      expect(messages(f)).toEqual([]);
  });
});
