/**
 * Falling behind without falling over, with the fake clock: at most one pending check per
 * endpoint (later slots are skipped and counted, never queued), coverage, and one lag_high /
 * lag_ok per overload episode (hysteresis).
 */
import { describe, expect, it } from 'vitest';
import { servedSlot } from '../../src/checks/serve-slot.js';
import type { ClusterStatus, Coordinator, OwnedJob } from '../../src/cluster/coordinator.js';
import { type CheckRunner, Engine, type EngineObserver } from '../../src/engine/engine.js';
import { OverloadDetector, type OverloadReading } from '../../src/engine/overload.js';
import { SkipLedger } from '../../src/engine/skips.js';
import { FakeClock } from '../../src/model/clock.js';
import type { CheckSpec, Endpoint } from '../../src/model/endpoint.js';
import { silentLogger } from '../../src/model/logger.js';
import type { CheckResult } from '../../src/model/result.js';
import { endpoint } from './fixtures.js';

/**
 * A runner with a fixed service rate: one check at a time, each taking `costMs` of fake time,
 * FIFO — a saturated thread. Results are delivered by `pump()` as fake time passes.
 */
class SlowRunner implements CheckRunner {
  queue: Array<{
    spec: CheckSpec;
    scheduledAt: number;
    everyMs: number;
    done: (r: CheckResult) => void;
    resolve: () => void;
  }> = [];
  busyUntil = 0;
  ran: Array<{ id: string; scheduledAt: number; startedAt: number }> = [];
  cap = Number.NEGATIVE_INFINITY;
  relabel = true;
  constructor(
    private readonly clock: FakeClock,
    public costMs: number,
  ) {}
  setServeCap(atOrBefore: number) {
    this.cap = atOrBefore;
  }
  run(
    batch: Array<{ spec: CheckSpec; scheduledAt: number; everyMs: number }>,
    onResult: (r: CheckResult) => void,
  ) {
    return new Promise<void>((resolve) => {
      let left = batch.length;
      for (const b of batch)
        this.queue.push({
          ...b,
          done: onResult,
          resolve: () => {
            if (--left === 0) resolve();
          },
        });
    });
  }
  /** Complete every check that would have finished by now. */
  pump(): void {
    const now = this.clock.now();
    for (;;) {
      const head = this.queue[0];
      if (!head) return;
      const start = Math.max(this.busyUntil, head.scheduledAt);
      if (start + this.costMs > now) return;
      this.queue.shift();
      this.busyUntil = start + this.costMs;
      // as a check thread does: started late, it serves its latest due slot
      const slot = this.relabel
        ? servedSlot(head.scheduledAt, head.everyMs, start, this.cap)
        : head.scheduledAt;
      this.ran.push({ id: head.spec.id, scheduledAt: slot, startedAt: start });
      head.done({
        endpoint: head.spec.id,
        scheduled_at: slot,
        started_at: start,
        duration_ms: this.costMs,
        ok: true,
        status_code: 200,
        error: null,
        values: {},
        worker: 'w',
      });
      head.resolve();
    }
  }
  async close() {}
}

class OwnAll implements Coordinator {
  mode = 'standalone' as const;
  private listener: ((jobs: ReadonlyMap<string, OwnedJob>) => void) | null = null;
  async start() {}
  onOwnedChange(fn: (jobs: ReadonlyMap<string, OwnedJob>) => void) {
    this.listener = fn;
  }
  own(eps: Endpoint[]) {
    this.listener?.(new Map(eps.map((e) => [e.name, { endpoint: e, takenOver: false, dueSince: 0 }])));
  }
  async loadAlertStates() {
    return new Map();
  }
  saveAlertState() {}
  mayRun() {
    return true;
  }
  setDesired() {}
  setDispatchHorizon() {}
  reportLag() {}
  setLocallyDegraded() {}
  ready() {
    return true;
  }
  status(): ClusterStatus {
    return { mode: 'standalone', self: 'w', admin: 'w', etcdUp: false, workers: [], jobsets: [], waiting: 0 };
  }
  async stop() {}
}

function setup(n: number, costMs: number) {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const runner = new SlowRunner(clock, costMs);
  const coordinator = new OwnAll();
  const events: OverloadReading[] = [];
  const skipped = new Map<string, number>();
  const observer: EngineObserver = {
    skipped: (reason, k) => skipped.set(reason, (skipped.get(reason) ?? 0) + k),
    tick: (r) => {
      if (r.transition) events.push(r);
    },
  };
  const engine = new Engine({
    clock,
    runner,
    coordinator,
    outputs: { result() {}, stateChange() {} },
    logger: silentLogger,
    observer,
  });
  engine.start();
  const eps = Array.from({ length: n }, (_, i) => endpoint(`e${String(i).padStart(3, '0')}`));
  coordinator.own(eps);
  /** advance fake time in 10 ms steps, letting the runner finish what it can */
  const run = (ms: number) => {
    for (let t = 0; t < ms; t += 10) {
      clock.advance(10);
      runner.pump();
    }
  };
  return { clock, runner, coordinator, engine, events, skipped, eps, run, t0: clock.now() };
}

describe('one pending check per endpoint', () => {
  it('under 1.5x overload: pending work stays bounded, slots are skipped and counted, lag stays about one interval', () => {
    // 150 endpoints every second, a runner that serves 100 checks/s
    const t = setup(150, 10);
    t.run(120_000);
    expect(t.engine.pendingChecks()).toBeLessThanOrEqual(150);
    expect(t.runner.queue.length).toBeLessThanOrEqual(150);
    const overlap = t.skipped.get('overlap') ?? 0;
    expect(overlap).toBeGreaterThan(0);
    // every due slot is accounted for: run + skipped = due (150 × 120, ± the slots in flight at the end)
    const due = 150 * 120;
    expect(t.engine.skips.runTotal + overlap).toBeGreaterThanOrEqual(due - 150);
    expect(t.engine.skips.runTotal + overlap).toBeLessThanOrEqual(due + 150);
    // the runner is saturated: about 100 checks/s completed, coverage about 2/3
    expect(t.runner.ran.length).toBeGreaterThan(100 * 115);
    const coverage = t.engine.coverage();
    expect(coverage).toBeGreaterThan(0.6);
    expect(coverage).toBeLessThan(0.72);
    // the lag of a slot that runs is bounded: about one interval plus a check's duration (+ queue share)
    const late = t.runner.ran
      .filter((r) => r.startedAt > t.t0 + 60_000)
      .map((r) => r.startedAt - r.scheduledAt);
    expect(Math.max(...late)).toBeLessThan(2_000);
    // fair: every endpoint ran in the last 10 s
    const recent = new Set(t.runner.ran.filter((r) => r.startedAt > t.t0 + 110_000).map((r) => r.id));
    expect(recent.size).toBe(150);
    // per-endpoint skipped slots add up to the counter
    const perEndpoint = t.engine.status().reduce((s, e) => s + e.skipped_slots, 0);
    expect(perEndpoint).toBe(overlap);
  });

  it('under 3x overload the slot that runs is less than one interval plus a check late, and no endpoint starves', () => {
    // 300 endpoints every second, a runner that serves 100 checks/s: each check waits ~3 s to start
    const t = setup(300, 10);
    t.run(90_000);
    const late = t.runner.ran
      .filter((r) => r.startedAt > t.t0 + 30_000)
      .map((r) => r.startedAt - r.scheduledAt);
    expect(late.length).toBeGreaterThan(100 * 55);
    expect(Math.max(...late)).toBeLessThan(1000 + 10);
    // without serving the latest slot the same run is ~3 s late: the test measures the difference
    const old = setup(300, 10);
    old.runner.relabel = false;
    old.run(90_000);
    const oldLate = old.runner.ran
      .filter((r) => r.startedAt > old.t0 + 30_000)
      .map((r) => r.startedAt - r.scheduledAt);
    expect(Math.max(...oldLate)).toBeGreaterThan(2500);
    // still overloaded (lag_high), coverage about 1/3, every slot run once at most, none starves
    expect(t.events.map((e) => e.transition)).toEqual(['high']);
    expect(t.engine.coverage()).toBeLessThan(0.4);
    const seen = new Set<string>();
    for (const r of t.runner.ran) {
      const key = `${r.id}@${r.scheduledAt}`;
      expect(seen.has(key)).toBe(false);
      seen.add(key);
    }
    const recent = new Set(t.runner.ran.filter((r) => r.startedAt > t.t0 + 80_000).map((r) => r.id));
    expect(recent.size).toBe(300);
  });

  it('a job given away while its check waits serves no slot past the horizon of the handover', () => {
    const t = setup(300, 10);
    t.run(20_000);
    const horizon = t.runner.cap;
    const gone = t.runner.queue.map((q) => q.spec.id);
    expect(gone.length).toBeGreaterThan(100);
    const goneSet = new Set(gone);
    t.coordinator.own(t.eps.filter((e) => !goneSet.has(e.name)));
    const before = t.runner.ran.length;
    t.run(5_000);
    const afterwards = t.runner.ran.slice(before).filter((r) => goneSet.has(r.id));
    expect(afterwards.length).toBeGreaterThan(0);
    for (const r of afterwards) expect(r.scheduledAt).toBeLessThanOrEqual(horizon);
    // once they reported, the cap follows the dispatch horizon again
    expect(t.runner.cap).toBeGreaterThan(horizon);
  });

  it('one lag_high per episode and one lag_ok after relief (hysteresis), lag back under a second', () => {
    const t = setup(150, 10);
    t.run(60_000);
    expect(t.events.map((e) => e.transition)).toEqual(['high']);
    expect(t.events[0]!.servedRate).toBeGreaterThan(90);
    expect(t.events[0]!.servedRate).toBeLessThan(110);
    // relief: two thirds of the endpoints go away
    t.coordinator.own(t.eps.slice(0, 50));
    t.run(3_000);
    const after = t.runner.ran.filter((r) => r.startedAt > t.clock.now() - 1000);
    expect(Math.max(...after.map((r) => r.startedAt - r.scheduledAt))).toBeLessThan(1000);
    t.run(40_000);
    expect(t.events.map((e) => e.transition)).toEqual(['high', 'ok']);
    expect(t.engine.overloadReading()?.overloaded).toBe(false);
    t.run(20_000); // the coverage window (one minute) has forgotten the overload
    expect(t.engine.coverage()).toBe(1);
    expect(t.events).toHaveLength(2);
  });

  it('a healthy load never skips or raises lag_high', () => {
    const t = setup(50, 10);
    t.run(30_000);
    expect(t.skipped.size).toBe(0);
    expect(t.events).toEqual([]);
    expect(t.engine.coverage()).toBe(1);
  });
});

describe('OverloadDetector', () => {
  const lag = (n: number, behind: number) =>
    new Map(
      Array.from({ length: n }, (_, i) => [`j${i}`, { lagMs: i < behind ? 5000 : 5, intervalMs: 1000 }]),
    );

  it('starts an episode after a full window, ignores short bursts, ends it after the recovery window', () => {
    const d = new OverloadDetector({ behindFraction: 0.05, windowMs: 5000, recoverWindowMs: 30_000 });
    // 3 s of overload, then fine: no episode
    for (let s = 0; s < 3; s++) expect(d.update(lag(100, 50), s * 1000, 100).transition).toBeNull();
    for (let s = 3; s < 10; s++) expect(d.update(lag(100, 0), s * 1000, 100).overloaded).toBe(false);
    // sustained: episode starts at the window's end, since = its first late second
    let r = d.update(lag(100, 50), 10_000, 80);
    for (let s = 11; s <= 15; s++) r = d.update(lag(100, 50), s * 1000, 80);
    expect(r.transition).toBe('high');
    expect(r.since).toBe(10_000);
    expect(r.servedRate).toBeCloseTo(80, 0);
    // one quiet second does not end it; a late second resets the recovery
    expect(d.update(lag(100, 0), 16_000, 80).overloaded).toBe(true);
    expect(d.update(lag(100, 1), 17_000, 80).overloaded).toBe(true);
    for (let s = 18; s < 48; s++) expect(d.update(lag(100, 0), s * 1000, 80).transition).toBeNull();
    r = d.update(lag(100, 0), 48_000, 80);
    expect(r.transition).toBe('ok');
    expect(r.overloaded).toBe(false);
    expect(r.since).toBeNull();
  });

  it('2.5% of jobs behind is not overload', () => {
    const d = new OverloadDetector();
    for (let s = 0; s < 60; s++) expect(d.update(lag(40, 1), s * 1000, 40).overloaded).toBe(false);
  });
});

describe('SkipLedger', () => {
  it('coverage over the last minute forgets older seconds', () => {
    const l = new SkipLedger();
    l.ran(10, 0);
    l.skipped('overlap', 10, 500);
    expect(l.coverage(1000)).toBe(0.5);
    l.ran(10, 61_000);
    expect(l.coverage(61_000)).toBe(1);
    expect(l.totals.overlap).toBe(10);
    expect(l.runTotal).toBe(20);
  });
});
