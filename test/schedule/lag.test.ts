import { describe, expect, it } from 'vitest';
import { LagTracker, lagThresholdMs } from '../../src/schedule/lag.js';

const T0 = Date.UTC(2026, 0, 1);

describe('lagThresholdMs', () => {
  it.each([
    [1_000, 100],
    [5_000, 500],
    [10_000, 1_000],
    [60_000, 1_000],
    [3600_000, 1_000],
  ])('interval %d ms -> %d ms', (interval, expected) => {
    expect(lagThresholdMs(interval)).toBe(expected);
    expect(LagTracker.threshold(interval)).toBe(expected);
  });
});

describe('LagTracker', () => {
  it('keeps the last perJob samples of each job, oldest first', () => {
    const lt = new LagTracker({ perJob: 4 });
    for (let i = 1; i <= 6; i++) lt.record('a', i, T0 + i);
    lt.record('b', 99, T0);
    expect(lt.recent('a', T0 + 10)).toEqual([3, 4, 5, 6]);
    expect(lt.recent('b', T0 + 10)).toEqual([99]);
    expect(lt.latest('a')).toBe(6);
    expect(lt.recent('none', T0)).toEqual([]);
    expect(lt.latest('none')).toBeUndefined();
  });

  it('forgets samples older than maxAgeMs (times kept to the second)', () => {
    const lt = new LagTracker({ maxAgeMs: 60_000 });
    lt.record('a', 5_000, T0);
    lt.record('a', 7_000, T0 + 30_000);
    expect(lt.recent('a', T0 + 60_000)).toEqual([5_000, 7_000]);
    expect(lt.recent('a', T0 + 61_000)).toEqual([7_000]);
    expect(lt.p99(T0 + 200_000)).toBeNull();
  });

  it.each([
    // lags (interval 10 s -> threshold 1 s), expected behind
    [[], false],
    [[5_000], false],
    [[5_000, 5_000], false],
    [[5_000, 5_000, 5_000], true],
    [[0, 0, 1_001, 1_500, 2_000], true],
    [[5_000, 5_000, 5_000, 10], false], // the latest is on time: recovered
    [[5_000, 10, 5_000, 5_000], false], // not sustained
    [[1_000, 1_000, 1_000], false], // at the threshold is not above it
  ])('behind after %j: %s', (lags, expected) => {
    const lt = new LagTracker();
    lags.forEach((l, i) => {
      lt.record('a', l, T0 + i * 10_000);
    });
    expect(lt.behind('a', 10_000, T0 + lags.length * 10_000)).toBe(expected);
  });

  it('uses the per-interval threshold: 200 ms late is behind at 1 s, not at 10 s', () => {
    const lt = new LagTracker();
    for (let i = 0; i < 3; i++) lt.record('a', 200, T0 + i * 1000);
    expect(lt.behind('a', 1_000, T0 + 3000)).toBe(true);
    expect(lt.behind('a', 10_000, T0 + 3000)).toBe(false);
  });

  it('stale samples do not keep a job behind', () => {
    const lt = new LagTracker({ maxAgeMs: 60_000 });
    for (let i = 0; i < 3; i++) lt.record('a', 5_000, T0 + i);
    expect(lt.behind('a', 10_000, T0 + 10)).toBe(true);
    expect(lt.behind('a', 10_000, T0 + 120_000)).toBe(false);
  });

  it('p99 over recent lags of all jobs (nearest rank)', () => {
    const lt = new LagTracker();
    expect(lt.p99(T0)).toBeNull();
    for (let i = 1; i <= 100; i++) lt.record(`j${i % 7}`, i, T0);
    expect(lt.p99(T0)).toBe(99);
    lt.record('x', 10_000, T0);
    expect(lt.p99(T0)).toBe(100);
  });

  it('remove forgets a job', () => {
    const lt = new LagTracker();
    lt.record('a', 1, T0);
    lt.remove('a');
    expect(lt.recent('a', T0)).toEqual([]);
    expect([...lt.ids()]).toEqual([]);
  });
});

describe('LagTracker storage', () => {
  it('keeps jobs apart across slab growth and reuses a removed job slot without its old samples', () => {
    const lag = new LagTracker({ perJob: 4 });
    for (let j = 0; j < 300; j++) for (let k = 0; k < 6; k++) lag.record(`j${j}`, j * 10 + k, T0 + k);
    expect(lag.recent('j0', T0 + 10)).toEqual([2, 3, 4, 5]);
    expect(lag.recent('j299', T0 + 10)).toEqual([2992, 2993, 2994, 2995]);
    lag.remove('j7');
    lag.record('new', 1, T0 + 9);
    expect(lag.recent('new', T0 + 10)).toEqual([1]);
    expect(lag.latest('new')).toBe(1);
    expect(lag.recent('j8', T0 + 10)).toEqual([82, 83, 84, 85]);
    expect(lag.recent('j7', T0 + 10)).toEqual([]);
  });
});

describe('LagTracker.minOfLast', () => {
  it('is the smallest of the last k lags in the window, like Math.min over recent().slice(-k)', () => {
    const t = new LagTracker({ perJob: 4, maxAgeMs: 60_000 });
    expect(t.minOfLast('a', 3, 0)).toBeUndefined();
    const lags = [50, 10, 70, 30, 90, 80];
    lags.forEach((l, i) => {
      t.record('a', l, 1000 * i);
    });
    const now = 6000;
    expect(t.minOfLast('a', 3, now)).toBe(Math.min(...t.recent('a', now).slice(-3)));
    expect(t.minOfLast('a', 3, now)).toBe(30);
    expect(t.minOfLast('a', 1, now)).toBe(80);
    // samples older than the window do not count
    expect(t.minOfLast('a', 3, 64_500)).toBe(80); // only the samples at 4 s (90) and 5 s (80) are in the window
    expect(t.minOfLast('a', 3, 10 * 60_000)).toBeUndefined();
  });
});
