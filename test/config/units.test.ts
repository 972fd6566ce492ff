import { describe, expect, it } from 'vitest';
import { didYouMean } from '../../src/config/did-you-mean.js';
import { parseDuration, parseSize } from '../../src/config/index.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['5s', 5000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    [5, 5000],
    [0.25, 250],
  ] as const)('%s -> %d ms', (v, ms) => expect(parseDuration(v)).toBe(ms));

  it.each(['', '5', '5 s', 's', '-1s', '5sec', '1s 2s', '0s'] as const)('rejects %j', (v) =>
    expect(parseDuration(v)).toBeNull(),
  );
  it('rejects zero, negative and non-finite numbers', () => {
    for (const v of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) expect(parseDuration(v)).toBeNull();
  });
});

describe('parseSize', () => {
  it.each([
    ['1MiB', 1024 * 1024],
    ['512KB', 512_000],
    ['512KiB', 524_288],
    ['1 MB', 1_000_000],
    ['100b', 100],
    ['1gib', 1024 ** 3],
    [2048, 2048],
  ] as const)('%s -> %d bytes', (v, b) => expect(parseSize(v)).toBe(b));
  it.each(['1 megabyte', 'MiB', '1.5', '', '0B'] as const)('rejects %j', (v) =>
    expect(parseSize(v)).toBeNull(),
  );
});

describe('didYouMean', () => {
  const known = ['timeout', 'connect_timeout', 'interval', 'cron_schedule', 'status_code'];
  it('suggests a close field and nothing for a far one', () => {
    expect(didYouMean('timout', known)).toBe('timeout');
    expect(didYouMean('intervall', known)).toBe('interval');
    expect(didYouMean('cron', known)).toBeNull();
    expect(didYouMean('retries', known)).toBeNull();
    expect(didYouMean('Status_Code', known)).toBe('status_code');
  });
});
