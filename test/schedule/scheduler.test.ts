import { afterEach, describe, expect, it } from 'vitest';
import { type Clock, FakeClock, type TimerHandle } from '../../src/model/clock.js';
import type { Schedule } from '../../src/model/endpoint.js';
import { type DueCheck, type ScheduledJob, Scheduler } from '../../src/schedule/scheduler.js';
import { latestDue, nextDue, phaseOf } from '../../src/schedule/slots.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const cron = (expr: string, timezone = 'UTC'): Schedule => ({ kind: 'cron', expr, timezone });
const every = (everyMs: number): Schedule => ({ kind: 'interval', everyMs });

interface Fired extends DueCheck {
  /** clock time when handed on */
  firedAt: number;
}

/** A Scheduler on a clock, recording every check handed on. */
function harness(clock: Clock, maxBatch?: number) {
  const fired: Fired[] = [];
  const batches: number[] = [];
  const sched = new Scheduler({
    clock,
    maxBatch,
    onDue: (batch) => {
      batches.push(batch.length);
      for (const d of batch) fired.push({ ...d, firedAt: clock.now() });
    },
  });
  return { sched, fired, batches, of: (id: string) => fired.filter((f) => f.id === id) };
}

/**
 * A clock whose timers can fire late (the process stalled) or early (real timers and clock steps
 * do that): time jumps first, then the due timers run with the clock already past them.
 */
class StallingClock implements Clock {
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
  monotonic(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return { id } as unknown as TimerHandle;
  }
  clearTimeout(h: TimerHandle): void {
    this.timers.delete((h as unknown as { id: number }).id);
  }
  /** Jump by ms, then run every timer due by then (late). */
  stall(ms: number): void {
    this.t += ms;
    for (let guard = 0; guard < 1000; guard++) {
      const due = [...this.timers].filter(([, x]) => x.at <= this.t);
      if (due.length === 0) return;
      for (const [id, x] of due) {
        this.timers.delete(id);
        x.fn();
      }
    }
  }
  /** Run every armed timer now, whatever its due time (early firing). */
  fireAllEarly(): void {
    const all = [...this.timers];
    this.timers.clear();
    for (const [, x] of all) x.fn();
  }
  armedAt(): number[] {
    return [...this.timers.values()].map((x) => x.at);
  }
}

let live: Scheduler[] = [];
afterEach(() => {
  for (const s of live) s.stop();
  live = [];
});
function track<T extends { sched: Scheduler }>(h: T): T {
  live.push(h.sched);
  return h;
}

describe('Scheduler: cron', () => {
  it('6-field cron with seconds fires every second at exact second boundaries', () => {
    const clock = new FakeClock(T0 + 300);
    const h = track(harness(clock));
    h.sched.set([{ id: 'a', schedule: cron('* * * * * *'), hash: 'h1' }]);
    expect(h.sched.nextDueOf('a')).toBe(T0 + 1000);
    clock.advance(5_000);
    expect(h.fired.map((f) => f.scheduledAt)).toEqual([1, 2, 3, 4, 5].map((s) => T0 + s * 1000));
    for (const f of h.fired) expect(f.firedAt).toBe(f.scheduledAt);
    expect(h.sched.stats().skippedSlots).toBe(0);
  });

  it('5-field cron fires on minute boundaries', () => {
    const clock = new FakeClock(T0 + 1);
    const h = track(harness(clock));
    h.sched.set([{ id: 'm', schedule: cron('*/2 * * * *'), hash: 'h' }]);
    clock.advance(6 * 60_000);
    expect(h.fired.map((f) => f.scheduledAt)).toEqual([2, 4, 6].map((m) => T0 + m * 60_000));
  });

  it('respects the timezone: 0 9 * * * in Europe/Paris vs UTC', () => {
    const clock = new FakeClock(T0);
    const h = track(harness(clock));
    h.sched.set([
      { id: 'paris', schedule: cron('0 9 * * *', 'Europe/Paris'), hash: 'p' },
      { id: 'utc', schedule: cron('0 9 * * *'), hash: 'u' },
    ]);
    clock.advance(2 * 86_400_000);
    expect(h.of('paris').map((f) => f.scheduledAt)).toEqual([
      Date.UTC(2026, 0, 2, 8),
      Date.UTC(2026, 0, 3, 8),
    ]);
    expect(h.of('utc').map((f) => f.scheduledAt)).toEqual([Date.UTC(2026, 0, 2, 9), Date.UTC(2026, 0, 3, 9)]);
  });
});

describe('Scheduler: intervals and reload', () => {
  const jobs = (n: number, everyMs: number, hash = 'h'): ScheduledJob[] =>
    Array.from({ length: n }, (_, i) => ({ id: `job-${i}`, schedule: every(everyMs), hash }));

  it('no drift: 6 hours of a 10 s interval stay exactly on the phase grid', () => {
    const clock = new FakeClock(T0 + 123);
    const h = track(harness(clock));
    h.sched.set(jobs(20, 10_000));
    clock.advance(6 * 3600_000);
    for (let i = 0; i < 20; i++) {
      const id = `job-${i}`;
      const phase = phaseOf(id, 10_000);
      const mine = h.of(id);
      // 6 h / 10 s slots, every one of them, each once, on time, on the grid
      expect(mine.length).toBe(2160);
      let off = 0;
      for (let k = 0; k < mine.length; k++) {
        const f = mine[k]!;
        if ((f.scheduledAt - phase) % 10_000 !== 0 || f.firedAt !== f.scheduledAt) off++;
        if (k > 0 && f.scheduledAt - mine[k - 1]!.scheduledAt !== 10_000) off++;
      }
      expect(off).toBe(0);
    }
    expect(clock.pendingTimers()).toBe(1); // one timer source for all jobs
  });

  it('hot reload keeps the phase and next due of unchanged jobs (same hash)', () => {
    const clock = new FakeClock(T0);
    const h = track(harness(clock));
    h.sched.set(jobs(50, 10_000));
    clock.advance(4_321);
    const before = new Map(jobs(50, 10_000).map((j) => [j.id, h.sched.nextDueOf(j.id)]));
    h.sched.set(jobs(50, 10_000)); // fresh objects, same ids and hashes
    for (const [id, due] of before) expect(h.sched.nextDueOf(id)).toBe(due);
    clock.advance(60_000 - 4_321);
    // each job: exactly one check per slot across the reload, no repeat, no gap
    for (const j of jobs(50, 10_000)) {
      const at = h.of(j.id).map((f) => f.scheduledAt);
      expect(at.length).toBe(6);
      for (let k = 1; k < at.length; k++) expect(at[k]! - at[k - 1]!).toBe(10_000);
    }
  });

  it('a reload at the very ms of a pending slot keeps that slot (not recomputed past it)', () => {
    const clock = new StallingClock(T0 + 500);
    const h = track(harness(clock));
    const job = { id: 'a', schedule: cron('* * * * * *'), hash: 'h' };
    h.sched.set([job]);
    clock.t = T0 + 1_000; // the slot is due, its timer has not run yet
    h.sched.set([{ ...job }]);
    h.sched.set([{ ...job, hash: 'h2' }]); // another field changed: same schedule, same slot
    clock.stall(0);
    expect(h.fired.map((f) => f.scheduledAt)).toEqual([T0 + 1_000]);
  });

  it('a reload before a pending takeover catch-up keeps the catch-up', () => {
    const clock = new FakeClock(T0 + 7_250);
    const h = track(harness(clock));
    const job = { id: 'c', schedule: cron('* * * * * *'), hash: 'h', takenOver: true, dueSince: T0 };
    h.sched.set([job]);
    h.sched.set([{ ...job, takenOver: false }]);
    clock.advance(0);
    expect(h.fired.map((f) => f.scheduledAt)).toEqual([T0 + 7_000]);
  });

  it('a changed hash with the same schedule keeps the due time', () => {
    const clock = new FakeClock(T0);
    const h = track(harness(clock));
    h.sched.set([{ id: 'a', schedule: every(10_000), hash: 'v1' }]);
    const due = h.sched.nextDueOf('a');
    clock.advance(1);
    h.sched.set([{ id: 'a', schedule: every(10_000), hash: 'v2' }]);
    expect(h.sched.nextDueOf('a')).toBe(due);
  });

  it('a changed schedule is recomputed from now', () => {
    const clock = new FakeClock(T0 + 500);
    const h = track(harness(clock));
    h.sched.set([{ id: 'a', schedule: cron('0 * * * *'), hash: 'v1' }]);
    expect(h.sched.nextDueOf('a')).toBe(T0 + 3600_000);
    h.sched.set([{ id: 'a', schedule: cron('*/5 * * * * *'), hash: 'v2' }]);
    expect(h.sched.nextDueOf('a')).toBe(T0 + 5_000);
    clock.advance(10_000);
    expect(h.fired.map((f) => f.scheduledAt)).toEqual([T0 + 5_000, T0 + 10_000]);
    // and to an interval
    h.sched.set([{ id: 'a', schedule: every(7_000), hash: 'v3' }]);
    expect(h.sched.nextDueOf('a')).toBe(nextDue(every(7_000), clock.now(), 'a'));
  });

  it('a removed job never fires again; re-adding it starts it once more (no duplicate)', () => {
    const clock = new FakeClock(T0);
    const h = track(harness(clock));
    h.sched.set(jobs(3, 1_000));
    clock.advance(2_000);
    h.sched.set(jobs(3, 1_000).filter((j) => j.id !== 'job-1'));
    expect(h.sched.size).toBe(2);
    expect(h.sched.nextDueOf('job-1')).toBeUndefined();
    const count = h.of('job-1').length;
    clock.advance(10_000);
    expect(h.of('job-1').length).toBe(count);
    expect(h.of('job-0').length).toBe(12);
    h.sched.set(jobs(3, 1_000));
    clock.advance(5_000);
    expect(h.of('job-1').length).toBe(count + 5);
  });

  it('removing every job leaves no timer armed', () => {
    const clock = new FakeClock(T0);
    const h = track(harness(clock));
    h.sched.set(jobs(10, 1_000));
    expect(clock.pendingTimers()).toBe(1);
    h.sched.set([]);
    expect(clock.pendingTimers()).toBe(0);
    clock.advance(5_000);
    expect(h.fired).toEqual([]);
  });

  it('stop() clears the timer and nothing fires afterwards', () => {
    const clock = new FakeClock(T0);
    const h = track(harness(clock));
    h.sched.set(jobs(10, 1_000));
    h.sched.stop();
    expect(clock.pendingTimers()).toBe(0);
    clock.advance(5_000);
    expect(h.fired).toEqual([]);
  });

  it('a job with an invalid schedule is skipped without affecting the others', () => {
    const clock = new FakeClock(T0);
    const h = track(harness(clock));
    h.sched.set([
      { id: 'bad', schedule: cron('every tuesday'), hash: 'x' },
      { id: 'good', schedule: cron('* * * * * *'), hash: 'y' },
    ]);
    expect(h.sched.size).toBe(1);
    expect(h.sched.stats().invalid).toBe(1);
    clock.advance(3_000);
    expect(h.of('good').length).toBe(3);
  });

  it('an onDue that throws does not stop the schedule', () => {
    const clock = new FakeClock(T0);
    let calls = 0;
    const sched = new Scheduler({
      clock,
      onDue: () => {
        calls++;
        throw new Error('boom');
      },
    });
    live.push(sched);
    sched.set([{ id: 'a', schedule: cron('* * * * * *'), hash: 'h' }]);
    clock.advance(3_000);
    expect(calls).toBe(3);
  });
});

describe('Scheduler: takeover catch-up', () => {
  it('fires one catch-up for the latest missed slot, then continues on schedule', () => {
    const clock = new FakeClock(T0 + 35_500);
    const h = track(harness(clock));
    const s = every(10_000);
    const latest = latestDue(s, clock.now(), 'moved');
    h.sched.set([{ id: 'moved', schedule: s, hash: 'h', takenOver: true, dueSince: clock.now() - 30_000 }]);
    clock.advance(0);
    expect(h.fired).toEqual([{ id: 'moved', scheduledAt: latest, passed: 0, firedAt: clock.now() }]);
    expect(h.sched.stats().catchUps).toBe(1);
    clock.advance(20_000);
    expect(h.fired.map((f) => f.scheduledAt)).toEqual([latest, latest + 10_000, latest + 20_000]);
    expect(h.sched.stats().skippedSlots).toBe(0);
  });

  it('cron catch-up: one check for the latest slot in [dueSince, now]', () => {
    const clock = new FakeClock(T0 + 7_250);
    const h = track(harness(clock));
    h.sched.set([
      { id: 'c', schedule: cron('* * * * * *'), hash: 'h', takenOver: true, dueSince: T0 + 1_000 },
    ]);
    clock.advance(0);
    expect(h.fired.map((f) => f.scheduledAt)).toEqual([T0 + 7_000]);
    clock.advance(2_000);
    expect(h.fired.map((f) => f.scheduledAt)).toEqual([T0 + 7_000, T0 + 8_000, T0 + 9_000]);
  });

  it('no catch-up when no slot fell due since dueSince', () => {
    const clock = new FakeClock(T0 + 7_250);
    const h = track(harness(clock));
    h.sched.set([
      { id: 'c', schedule: cron('* * * * * *'), hash: 'h', takenOver: true, dueSince: T0 + 7_001 },
    ]);
    clock.advance(0);
    expect(h.fired).toEqual([]);
    expect(h.sched.nextDueOf('c')).toBe(T0 + 8_000);
  });

  it('takenOver is ignored for a job already running here', () => {
    const clock = new FakeClock(T0 + 500);
    const h = track(harness(clock));
    h.sched.set([{ id: 'c', schedule: cron('* * * * * *'), hash: 'h' }]);
    clock.advance(2_000);
    h.sched.set([{ id: 'c', schedule: cron('* * * * * *'), hash: 'h', takenOver: true, dueSince: T0 }]);
    clock.advance(0);
    expect(h.fired.map((f) => f.scheduledAt)).toEqual([T0 + 1_000, T0 + 2_000]);
  });
});

describe('Scheduler: falling behind', () => {
  it('a late timer fires each job once for its latest slot and counts the skipped slots', () => {
    const clock = new StallingClock(T0);
    const h = track(harness(clock));
    h.sched.set([
      { id: 's', schedule: cron('* * * * * *'), hash: 'h' },
      { id: 'i', schedule: every(2_000), hash: 'h' },
    ]);
    const firstI = h.sched.nextDueOf('i')!;
    clock.stall(10_500); // the process was stuck for 10.5 s
    expect(h.of('s').map((f) => f.scheduledAt)).toEqual([T0 + 10_000]);
    const lastI = latestDue(every(2_000), T0 + 10_500, 'i');
    expect(h.of('i').map((f) => f.scheduledAt)).toEqual([lastI]);
    // s: slots 1..9 passed over; i: every slot before its latest
    expect(h.sched.stats().skippedSlots).toBe(9 + (lastI - firstI) / 2_000);
    // back on schedule afterwards
    expect(h.sched.nextDueOf('s')).toBe(T0 + 11_000);
    clock.stall(500);
    expect(h.of('s').map((f) => f.scheduledAt)).toEqual([T0 + 10_000, T0 + 11_000]);
  });

  it('a timer firing early hands on nothing and re-arms for the due time', () => {
    const clock = new StallingClock(T0 + 100);
    const h = track(harness(clock));
    h.sched.set([{ id: 's', schedule: cron('* * * * * *'), hash: 'h' }]);
    clock.fireAllEarly();
    expect(h.fired).toEqual([]);
    expect(clock.armedAt()).toEqual([T0 + 1_000]);
    clock.stall(900);
    expect(h.fired.map((f) => [f.scheduledAt, f.firedAt])).toEqual([[T0 + 1_000, T0 + 1_000]]);
  });
});

describe('Scheduler: scale', () => {
  const many = (n: number, schedule: Schedule): ScheduledJob[] =>
    Array.from({ length: n }, (_, i) => ({ id: `svc-${i}.example.com/health`, schedule, hash: 'h' }));

  it('set() of 10,000 jobs schedules them all and a reload of them keeps every due time', () => {
    // set() cost is measured in bench/schedule, not asserted here
    const clock = new FakeClock(T0);
    const h = track(harness(clock));
    h.sched.set(many(10_000, every(30_000)));
    expect(h.sched.size).toBe(10_000);
    clock.advance(1_000);
    const before = many(10_000, every(30_000)).map((j) => h.sched.nextDueOf(j.id));
    h.sched.set(many(10_000, every(30_000)));
    expect(h.sched.size).toBe(10_000);
    expect(many(10_000, every(30_000)).map((j) => h.sched.nextDueOf(j.id))).toEqual(before);
  });

  it('10,000 jobs with the same interval are spread: each once per period, few per ms', () => {
    const clock = new FakeClock(T0);
    const h = track(harness(clock));
    h.sched.set(many(10_000, every(10_000)));
    clock.advance(10_000);
    expect(h.fired.length).toBe(10_000);
    expect(new Set(h.fired.map((f) => f.id)).size).toBe(10_000);
    const perMs = new Map<number, number>();
    for (const f of h.fired) perMs.set(f.scheduledAt, (perMs.get(f.scheduledAt) ?? 0) + 1);
    expect(Math.max(...perMs.values())).toBeLessThanOrEqual(12);
    // batches are per timer firing: many small ones, none huge
    expect(Math.max(...h.batches)).toBeLessThanOrEqual(12);
  });

  it('10,000 jobs due in the same slot are handed on in batches of maxBatch', () => {
    const clock = new FakeClock(T0 + 1);
    const h = track(harness(clock, 256));
    h.sched.set(many(10_000, cron('*/5 * * * * *')));
    clock.advance(5_000);
    expect(h.batches.length).toBe(Math.ceil(10_000 / 256));
    expect(h.batches.slice(0, -1).every((b) => b === 256)).toBe(true);
    expect(h.batches.at(-1)).toBe(10_000 % 256);
    expect(new Set(h.fired.map((f) => f.id)).size).toBe(10_000);
    expect(h.fired.every((f) => f.scheduledAt === T0 + 5_000)).toBe(true);
  });

  it('coalesceMs bounds wake-ups and lateness, and never fires early', () => {
    const clock = new FakeClock(T0);
    const fired: Fired[] = [];
    const sched = new Scheduler({
      clock,
      coalesceMs: 5,
      onDue: (batch) => {
        for (const d of batch) fired.push({ ...d, firedAt: clock.now() });
      },
    });
    live.push(sched);
    sched.set(many(2_000, every(1_000)));
    clock.advance(10_000);
    expect(fired.length).toBeGreaterThanOrEqual(2_000 * 9);
    for (const f of fired) {
      expect(f.firedAt).toBeGreaterThanOrEqual(f.scheduledAt);
      expect(f.firedAt - f.scheduledAt).toBeLessThan(5);
    }
    // at most one wake-up per 5 ms
    expect(sched.stats().timerFirings).toBeLessThanOrEqual(10_000 / 5 + 1);
    expect(sched.stats().skippedSlots).toBe(0);
  });

  it('the heap does not grow without bound under repeated reloads', () => {
    const clock = new FakeClock(T0);
    const h = track(harness(clock));
    for (let round = 0; round < 20; round++) {
      h.sched.set(many(1_000, every(5_000 + round))); // every job changes schedule each round
    }
    expect(h.sched.stats().heapNodes).toBeLessThanOrEqual(2 * 1_000 + 1024 + 1_000);
  });
});

describe('Scheduler: wall-clock steps', () => {
  /** A scheduler on a FakeClock recording firings with both readings, and the steps it heard of. */
  function stepHarness(start: number) {
    const clock = new FakeClock(start);
    const fired: Array<DueCheck & { wall: number; mono: number }> = [];
    const steps: number[] = [];
    const sched = new Scheduler({
      clock,
      onDue: (batch) => {
        for (const d of batch) fired.push({ ...d, wall: clock.now(), mono: clock.monotonic() });
      },
      onClockStep: (ms) => steps.push(ms),
    });
    live.push(sched);
    return { clock, fired, steps, sched };
  }

  it('a step back of 1 h re-plans at once: every slot of the new wall time, no wait for the hour', () => {
    const h = stepHarness(T0 + 10);
    h.sched.set([
      { id: 'a', schedule: every(1000), hash: 'a' },
      { id: 'b', schedule: every(1000), hash: 'b' },
    ]);
    h.clock.advance(5_000);
    expect(h.fired.filter((f) => f.id === 'a')).toHaveLength(5);
    const before = h.fired.length;
    const stepAtMono = h.clock.monotonic();
    h.clock.stepWall(-3600_000);
    h.clock.advance(10_000);
    const after = h.fired.slice(before);
    expect(h.steps).toEqual([-3600_000]);
    expect(h.sched.stats().clockSteps).toBe(1);
    for (const id of ['a', 'b']) {
      const mine = after.filter((f) => f.id === id);
      // the first check within a second of the step, then one per second: 10 in 10 s
      expect(mine[0]!.mono - stepAtMono).toBeLessThanOrEqual(1000);
      expect(mine).toHaveLength(10);
      for (let k = 1; k < mine.length; k++)
        expect(mine[k]!.scheduledAt - mine[k - 1]!.scheduledAt).toBe(1000);
      // slots are named by the new wall time, never after the moment they are handed on
      for (const f of mine) {
        expect(f.scheduledAt).toBeLessThanOrEqual(f.wall);
        expect(f.wall - f.scheduledAt).toBeLessThan(1000);
      }
    }
  });

  it('a step forward of 1 h fires each job once (one catch-up, no burst), then on schedule', () => {
    const h = stepHarness(T0 + 10);
    h.sched.set([{ id: 'a', schedule: every(1000), hash: 'a' }]);
    h.clock.advance(3_000);
    const before = h.fired.length;
    const stepAtMono = h.clock.monotonic();
    h.clock.stepWall(3600_000);
    h.clock.advance(5_000);
    const after = h.fired.slice(before);
    expect(h.steps).toEqual([3600_000]);
    expect(after[0]!.mono - stepAtMono).toBeLessThanOrEqual(1000);
    expect(after.length).toBeGreaterThanOrEqual(5);
    expect(after.length).toBeLessThanOrEqual(6);
    for (let k = 1; k < after.length; k++)
      expect(after[k]!.scheduledAt - after[k - 1]!.scheduledAt).toBe(1000);
    for (const f of after) expect(f.wall - f.scheduledAt).toBeLessThan(1000);
  });

  it('a job due in an hour is re-planned within a second of a step back, not after the hour', () => {
    const h = stepHarness(Date.UTC(2026, 0, 1, 12, 30));
    h.sched.set([{ id: 'hourly', schedule: cron('0 * * * *'), hash: 'h' }]);
    expect(h.sched.nextDueOf('hourly')).toBe(Date.UTC(2026, 0, 1, 13));
    h.clock.stepWall(-3600_000);
    h.clock.advance(1000);
    expect(h.steps).toEqual([-3600_000]);
    expect(h.sched.nextDueOf('hourly')).toBe(Date.UTC(2026, 0, 1, 12));
    h.clock.advance(30 * 60_000);
    expect(h.fired.map((f) => f.scheduledAt)).toEqual([Date.UTC(2026, 0, 1, 12)]);
  });

  it('small drift is not a step', () => {
    const h = stepHarness(T0);
    h.sched.set([{ id: 'a', schedule: every(1000), hash: 'a' }]);
    h.clock.stepWall(100);
    h.clock.advance(3000);
    h.clock.stepWall(-100);
    h.clock.advance(3000);
    expect(h.steps).toEqual([]);
  });
});
