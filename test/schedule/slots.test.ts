import { describe, expect, it } from 'vitest';
import type { Schedule } from '../../src/model/endpoint.js';
import { WatcherError } from '../../src/model/errors.js';
import {
  assertValidSchedule,
  latestDue,
  nextDue,
  phaseOf,
  SCHEDULE_INVALID,
  slotsBetween,
  typicalIntervalMs,
} from '../../src/schedule/slots.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const cron = (expr: string, timezone = 'UTC'): Schedule => ({ kind: 'cron', expr, timezone });
const every = (everyMs: number): Schedule => ({ kind: 'interval', everyMs });

describe('nextDue / latestDue', () => {
  it.each([
    // [expr, after, expected next]
    ['* * * * * *', T0, T0 + 1000],
    ['* * * * * *', T0 + 1, T0 + 1000],
    ['* * * * * *', T0 - 1, T0],
    ['*/10 * * * * *', T0 + 3000, T0 + 10_000],
    ['* * * * *', T0, T0 + 60_000],
    ['* * * * *', T0 + 59_999, T0 + 60_000],
    ['0 9 * * *', T0, Date.UTC(2026, 0, 2, 9)],
  ])('cron %s after +%d', (expr, after, expected) => {
    expect(nextDue(cron(expr), after, 'x')).toBe(expected);
  });

  it('respects the timezone (0 9 * * * in Paris is 08:00 UTC in winter, 07:00 in summer)', () => {
    expect(nextDue(cron('0 9 * * *', 'Europe/Paris'), T0, 'x')).toBe(Date.UTC(2026, 0, 2, 8));
    expect(nextDue(cron('0 9 * * *', 'Europe/Paris'), Date.UTC(2026, 6, 1), 'x')).toBe(
      Date.UTC(2026, 6, 1, 7),
    );
    expect(nextDue(cron('0 9 * * *', 'UTC'), T0, 'x')).toBe(Date.UTC(2026, 0, 2, 9));
    // empty timezone means UTC
    expect(nextDue(cron('0 9 * * *', ''), T0, 'x')).toBe(Date.UTC(2026, 0, 2, 9));
  });

  it('latestDue is the last slot at or before', () => {
    expect(latestDue(cron('* * * * * *'), T0, 'x')).toBe(T0);
    expect(latestDue(cron('* * * * * *'), T0 + 999, 'x')).toBe(T0);
    expect(latestDue(cron('* * * * *'), T0 + 61_000, 'x')).toBe(T0 + 60_000);
    const s = every(10_000);
    const p = phaseOf('job', 10_000);
    const slot = T0 + ((p - T0) % 10_000) + 10_000; // some slot on the grid
    expect((slot - p) % 10_000).toBe(0);
    expect(latestDue(s, slot, 'job')).toBe(slot);
    expect(latestDue(s, slot + 9_999, 'job')).toBe(slot);
    expect(nextDue(s, slot, 'job')).toBe(slot + 10_000);
    expect(nextDue(s, slot - 1, 'job')).toBe(slot);
  });

  it('interval slots sit on the phase grid of the job id', () => {
    const s = every(30_000);
    for (const id of ['a', 'b', 'www.example.com/health', 'host1/health', 'host2/health']) {
      const p = phaseOf(id, 30_000);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(30_000);
      let t = T0;
      for (let i = 0; i < 5; i++) {
        const n = nextDue(s, t, id);
        expect(n).toBeGreaterThan(t);
        expect(n - t).toBeLessThanOrEqual(30_000);
        expect((((n - p) % 30_000) + 30_000) % 30_000).toBe(0);
        t = n;
      }
    }
    expect(phaseOf('host1/health', 30_000)).not.toBe(phaseOf('host2/health', 30_000));
    expect(phaseOf('host1/health', 30_000)).toBe(phaseOf('host1/health', 30_000));
  });

  it('spreads 10,000 ids over the period', () => {
    for (const period of [10_000, 1_000]) {
      const perMs = new Map<number, number>();
      for (let i = 0; i < 10_000; i++) {
        const p = phaseOf(`svc-${i}.example.com/health`, period);
        perMs.set(p, (perMs.get(p) ?? 0) + 1);
      }
      const max = Math.max(...perMs.values());
      // uniform: 1 per ms (10 s) or 10 per ms (1 s); allow generous tails, forbid clumping
      expect(max).toBeLessThanOrEqual(period === 10_000 ? 10 : 30);
      expect(perMs.size).toBeGreaterThan(period === 10_000 ? 6_000 : 990);
    }
  });

  it('typicalIntervalMs', () => {
    expect(typicalIntervalMs(every(30_000), T0)).toBe(30_000);
    expect(typicalIntervalMs(cron('*/10 * * * * *'), T0)).toBe(10_000);
    expect(typicalIntervalMs(cron('* * * * *'), T0)).toBe(60_000);
    expect(typicalIntervalMs(cron('0 9 * * *', 'Europe/Paris'), T0)).toBe(86_400_000);
  });

  it('slotsBetween counts slots in [from, to)', () => {
    expect(slotsBetween(cron('* * * * * *'), T0, T0 + 5000, 'x')).toBe(5);
    expect(slotsBetween(cron('* * * * * *'), T0, T0, 'x')).toBe(0);
    const p = latestDue(every(1000), T0, 'j');
    expect(slotsBetween(every(1000), p, p + 5000, 'j')).toBe(5);
    // past the walk cap, cron is estimated from the typical interval
    expect(slotsBetween(cron('* * * * * *'), T0, T0 + 50_000, 'x', 10)).toBe(50);
  });

  it.each([
    [cron('not a cron')],
    [cron('* * *')],
    [cron('* * * * * * *')],
    [cron('61 * * * *')],
    [cron('0 9 * * *', 'Mars/Olympus_Mons')],
    [every(0)],
    [every(Number.NaN)],
  ])('rejects %j with a typed error', (s) => {
    let err: unknown;
    try {
      assertValidSchedule(s);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WatcherError);
    expect((err as WatcherError).code).toBe(SCHEDULE_INVALID);
    expect(() => nextDue(s, T0, 'x')).toThrow(WatcherError);
  });
});
