/** AWS CloudWatch and Datadog wire limits checked at load time (src/config/limits.ts). */
import { describe, expect, it } from 'vitest';
import {
  alarmPeriodIssue,
  checkNameIssue,
  datadogTagIssues,
  dimensionIssues,
  namespaceIssue,
  tagEntries,
} from '../../src/config/limits.js';

const show = (p: readonly (string | number)[]) => p.join('.');

describe('CloudWatch limits', () => {
  it('alarm periods: 10/30 s with high resolution, multiples of 60 s; nothing else', () => {
    for (const s of [60, 120, 300, 3600, 86400])
      expect(alarmPeriodIssue(s * 1000, false, 'p'), `${s}`).toBeNull();
    for (const s of [10, 30]) expect(alarmPeriodIssue(s * 1000, true, 'p'), `${s}`).toBeNull();
    for (const s of [10, 30])
      expect(alarmPeriodIssue(s * 1000, false, 'p')).toContain('needs `cloudwatch_high_resolution: true`');
    for (const ms of [1000, 20_000, 45_000, 90_000, 61_000, 60_500])
      expect(alarmPeriodIssue(ms, true, 'p'), `${ms}`).toContain('a multiple of 60s');
  });

  it('dimensions from tags: ASCII, no leading colon, lengths, at most 30 with Endpoint', () => {
    const ok = tagEntries(['team:web', 'canary', 'env:prod'], ['tags']);
    expect(dimensionIssues('api.example.com/health', ok, true, show)).toEqual([]);
    const bad = tagEntries([':odd', 'wéb', `k:${'v'.repeat(1025)}`, `${'n'.repeat(256)}:v`, ' :x'], ['tags']);
    const issues = dimensionIssues('api.example.com/health', bad, true, show);
    expect(issues.map((i) => i.path)).toEqual([
      ['tags', 0],
      ['tags', 1],
      ['tags', 2],
      ['tags', 3],
      ['tags', 4],
    ]);
    // tags are not dimensions unless asked; the endpoint name always is
    expect(dimensionIssues('wéb.example.com/', bad, false, show)).toEqual([
      { path: [], message: expect.stringContaining('printable ASCII') },
    ]);
    const many = tagEntries(
      Array.from({ length: 30 }, (_, i) => `t${i}:v`),
      ['tags'],
    );
    expect(dimensionIssues('a.example.com/', many, true, show)).toEqual([
      { path: ['tags'], message: expect.stringContaining('31 CloudWatch dimensions') },
    ]);
    expect(dimensionIssues('a.example.com/', many.slice(0, 29), true, show)).toEqual([]);
  });

  it('namespaces', () => {
    expect(namespaceIssue('Watcher', 'ns')).toBeNull();
    expect(namespaceIssue('AWS/EC2', 'ns')).toContain('reserved');
    expect(namespaceIssue(':x', 'ns')).toContain('must not start with ":"');
    expect(namespaceIssue('x'.repeat(256), 'ns')).toContain('at most 255');
  });
});

describe('Datadog limits', () => {
  it('tags start with a letter and hold at most 200 characters; check names at most 200', () => {
    expect(datadogTagIssues(tagEntries(['env:prod', 'équipe:web', 'a'.repeat(200)], ['tags']), show)).toEqual(
      [],
    );
    const issues = datadogTagIssues(tagEntries(['9lives', ':x', 'a'.repeat(201)], ['tags']), show);
    expect(issues.map((i) => i.path)).toEqual([
      ['tags', 0],
      ['tags', 1],
      ['tags', 2],
    ]);
    expect(datadogTagIssues(tagEntries('9lives', ['tags']), show)[0]?.path).toEqual(['tags']);
    expect(checkNameIssue('watcher.endpoint', 'c')).toBeNull();
    expect(checkNameIssue('w'.repeat(201), 'c')).toContain('at most 200');
  });
});
