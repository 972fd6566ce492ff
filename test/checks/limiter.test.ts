import { describe, expect, it } from 'vitest';
import { CheckLimiter, outOfDescriptors } from '../../src/checks/limiter.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('CheckLimiter', () => {
  it('runs at most `max` at once, first come first served', async () => {
    const l = new CheckLimiter(2);
    const started: number[] = [];
    const done: Array<() => void> = [];
    for (let i = 0; i < 4; i++)
      l.run(() => {
        started.push(i);
        return new Promise((resolve) => done.push(() => resolve(null)));
      });
    expect(started).toEqual([0, 1]);
    done.shift()!();
    await tick();
    expect(started).toEqual([0, 1, 2]);
  });

  it('halves on descriptor exhaustion (at most once per interval), grows back by about one per round', async () => {
    let t = 0;
    const l = new CheckLimiter(64, () => t, 100);
    const finish = async (reason: string | null) => {
      l.run(async () => reason);
      await tick();
      await tick();
    };
    await finish('local: EMFILE');
    expect(l.limit).toBe(32);
    await finish('local: ENFILE'); // same interval: no second cut
    expect(l.limit).toBe(32);
    t = 150;
    await finish('local: EMFILE');
    expect(l.limit).toBe(16);
    await finish('status 503'); // a target's failure is not the worker's
    await finish('local: ECONNRESET');
    for (let i = 0; i < 16; i++) await finish(null);
    expect(l.limit).toBe(17);
    for (let i = 0; i < 2000; i++) await finish(null);
    expect(l.limit).toBe(64);
  });

  it('checks its option', () => {
    expect(() => new CheckLimiter(0)).toThrow(RangeError);
    expect(outOfDescriptors('local: EMFILE')).toBe(true);
    expect(outOfDescriptors('connect EMFILE')).toBe(false);
    expect(outOfDescriptors(null)).toBe(false);
  });
});
