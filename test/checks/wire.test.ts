/**
 * The wire form of a check spec (wire.ts encodeSpec/decodeSpec): what a thread gets after the
 * thread boundary equals the CheckSpec fields of what the pool was given, whatever the values.
 */
import { describe, expect, it } from 'vitest';
import { decodeSpec, encodeSpec, toCheckSpec } from '../../src/checks/wire.js';
import type { Endpoint } from '../../src/model/endpoint.js';
import { spec } from './spec.js';

/** what a thread gets: the wire value cloned as postMessage does, decoded */
const received = (w: ReturnType<typeof encodeSpec>) => decodeSpec(structuredClone(w));

describe('check spec on the wire', () => {
  it('arrives equal, without the fields that are not CheckSpec; encoded once per spec object', () => {
    const s = spec('http://127.0.0.1:1/x', {
      headers: { 'x-a': 'b' },
      body: 'payload',
      successTests: [{ kind: 'json', key: 'a.b', op: '==', value: { deep: [1, 'two', null, true] } }],
      responseJsonValues: ['a.b'],
    });
    const endpoint = {
      ...s,
      schedule: { kind: 'interval', everyMs: 1000 },
      secret: 'x',
    } as unknown as Endpoint;
    const w = encodeSpec(endpoint);
    expect(received(w)).toEqual(toCheckSpec(s));
    expect(received(w)).not.toHaveProperty('secret');
    expect(received(w)).not.toHaveProperty('probe');
    expect(encodeSpec(endpoint)).toBe(w);
  });

  it.each([
    ['Infinity', Number.POSITIVE_INFINITY],
    ['NaN', Number.NaN],
    ['-0', -0],
    ['undefined in an array', [1, undefined]],
    ['a Date', new Date(0)],
  ])('a success test value (%s) arrives unchanged', (_name, value) => {
    const s = spec('http://127.0.0.1:1/x', { successTests: [{ kind: 'json', key: 'a', op: '==', value }] });
    expect(received(encodeSpec(s))).toEqual(toCheckSpec(s));
  });

  it('an optional probe block is kept', () => {
    const s = spec('dns://example.test', { probe: { kind: 'dns', record: 'A', server: '127.0.0.1:53' } });
    expect(received(encodeSpec(s))).toEqual(toCheckSpec(s));
  });
});
