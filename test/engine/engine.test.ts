/**
 * The engine loop with a fake clock, a fake runner and a fake coordinator: owned jobs are checked
 * on schedule, results flow to the outputs, a coordinator that says "may not run" stops dispatch,
 * and a child whose depends_on parent is owned by another worker (DOWN in etcd) is suppressed.
 */
import { describe, expect, it } from 'vitest';
import type { ClusterStatus, Coordinator, OwnedJob } from '../../src/cluster/coordinator.js';
import { type CheckRunner, Engine } from '../../src/engine/engine.js';
import type { AlertState, StateChange } from '../../src/model/alert.js';
import { FakeClock } from '../../src/model/clock.js';
import type { CheckSpec, Endpoint } from '../../src/model/endpoint.js';
import { silentLogger } from '../../src/model/logger.js';
import type { CheckResult } from '../../src/model/result.js';
import { endpoint } from './fixtures.js';

class FakeRunner implements CheckRunner {
  ran: Array<{ id: string; scheduledAt: number }> = [];
  /** run() calls (one per scheduler hand-off) and the clock when each came */
  calls: number[] = [];
  /** clock at hand-off − slot, per check */
  handOffLate: number[] = [];
  now: () => number = () => 0;
  /** when set, the reason of every failed check */
  failWith = 'status 503';
  constructor(private readonly ok: (spec: CheckSpec) => boolean) {}
  async run(batch: Array<{ spec: CheckSpec; scheduledAt: number }>, onResult: (r: CheckResult) => void) {
    this.calls.push(this.now());
    for (const { spec, scheduledAt } of batch) {
      this.ran.push({ id: spec.id, scheduledAt });
      this.handOffLate.push(this.now() - scheduledAt);
      const ok = this.ok(spec);
      onResult({
        endpoint: spec.id,
        scheduled_at: scheduledAt,
        started_at: scheduledAt,
        duration_ms: 1,
        ok,
        status_code: ok ? 200 : 503,
        error: ok ? null : this.failWith,
        values: {},
        worker: 'w',
      });
    }
  }
  setServeCap() {}
  async close() {}
}

class FakeCoordinator implements Coordinator {
  mode: 'standalone' | 'etcd' = 'etcd';
  allowed = true;
  remote = new Map<string, AlertState>();
  saved: AlertState[] = [];
  private listener: ((jobs: ReadonlyMap<string, OwnedJob>) => void) | null = null;
  async start() {}
  onOwnedChange(fn: (jobs: ReadonlyMap<string, OwnedJob>) => void) {
    this.listener = fn;
  }
  own(eps: Endpoint[]) {
    this.listener?.(new Map(eps.map((e) => [e.name, { endpoint: e, takenOver: false, dueSince: 0 }])));
  }
  async loadAlertStates(names: string[]) {
    return new Map(names.flatMap((n) => (this.remote.has(n) ? [[n, this.remote.get(n)!] as const] : [])));
  }
  saveAlertState(s: AlertState) {
    this.saved.push(s);
  }
  mayRun() {
    return this.allowed;
  }
  setDesired() {}
  setDispatchHorizon() {}
  reportLag() {}
  setLocallyDegraded() {}
  ready() {
    return true;
  }
  status(): ClusterStatus {
    return { mode: 'etcd', self: 'w', admin: null, etcdUp: true, workers: [], jobsets: [], waiting: 0 };
  }
  async stop() {}
}

function setup(ok: (spec: CheckSpec) => boolean, coalesceMs?: number) {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const runner = new FakeRunner(ok);
  runner.now = () => clock.now();
  const coordinator = new FakeCoordinator();
  const results: CheckResult[] = [];
  const changes: StateChange[] = [];
  const engine = new Engine({
    clock,
    runner,
    coordinator,
    outputs: { result: (r) => results.push(r), stateChange: (c) => changes.push(c) },
    logger: silentLogger,
    coalesceMs,
  });
  engine.start();
  return { clock, runner, coordinator, results, changes, engine };
}

describe('Engine', () => {
  it('coalesceMs: at most one hand-off per 20 ms, every slot still run once and at most 20 ms late', async () => {
    const eps = Array.from({ length: 500 }, (_, i) => endpoint(`e${i}`));
    const exact = setup(() => true);
    exact.coordinator.own(eps);
    const coalesced = setup(() => true, 20);
    coalesced.coordinator.own(eps);
    for (const t of [exact, coalesced]) {
      for (let ms = 0; ms < 3_000; ms++) t.clock.advance(1);
      await Promise.resolve();
    }
    const slots = (t: typeof exact) => new Set(t.runner.ran.map((r) => `${r.id}@${r.scheduledAt}`)).size;
    expect(slots(coalesced)).toBe(coalesced.runner.ran.length);
    expect(Math.abs(slots(coalesced) - slots(exact))).toBeLessThanOrEqual(eps.length);
    const gaps = coalesced.runner.calls.slice(1).map((at, i) => at - coalesced.runner.calls[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(20);
    expect(exact.runner.calls.length).toBeGreaterThan(4 * coalesced.runner.calls.length);
    expect(coalesced.runner.ran.length).toBeGreaterThan(1000);
    expect(Math.max(...coalesced.runner.handOffLate)).toBeLessThanOrEqual(20);
    expect(Math.max(...exact.runner.handOffLate)).toBeLessThanOrEqual(1);
    await exact.engine.stop(10);
    await coalesced.engine.stop(10);
  });

  it('checks owned jobs once per slot and stops dispatching when the coordinator forbids it', async () => {
    const t = setup(() => true);
    t.coordinator.own([endpoint('a'), endpoint('b')]);
    t.clock.advance(5_000);
    await Promise.resolve();
    const perJob = (id: string) => t.runner.ran.filter((r) => r.id === id).map((r) => r.scheduledAt);
    expect(perJob('a')).toHaveLength(5);
    expect(new Set(perJob('a')).size).toBe(5);
    expect(t.results).toHaveLength(10);
    t.coordinator.allowed = false;
    t.clock.advance(3_000);
    expect(t.runner.ran).toHaveLength(10);
    expect(t.engine.skips.totals.no_lease).toBe(6);
    await t.engine.stop(10);
  });

  it('persists state changes through the coordinator and suppresses a child whose remote parent is DOWN', async () => {
    const t = setup((spec) => spec.id !== 'child');
    t.coordinator.remote.set('parent', {
      endpoint: 'parent',
      state: 'DOWN',
      consecutiveFailures: 3,
      consecutiveSuccesses: 0,
      since: 1,
      reason: 'status 503',
    });
    t.coordinator.own([endpoint('child', ['parent'])]);
    await t.engine.refreshRemoteParents();
    t.clock.advance(1_000);
    await Promise.resolve();
    const down = t.changes.find((c) => c.endpoint === 'child' && c.to === 'DOWN');
    expect(down?.suppressed).toBe(true);
    expect(t.coordinator.saved.map((s) => [s.endpoint, s.state])).toContainEqual(['child', 'DOWN']);
    await t.engine.stop(10);
  });

  it('does not suppress when the remote parent is UP', async () => {
    const t = setup((spec) => spec.id !== 'child');
    t.coordinator.remote.set('parent', {
      endpoint: 'parent',
      state: 'UP',
      consecutiveFailures: 0,
      consecutiveSuccesses: 1,
      since: 1,
      reason: null,
    });
    t.coordinator.own([endpoint('child', ['parent'])]);
    await t.engine.refreshRemoteParents();
    t.clock.advance(1_000);
    await Promise.resolve();
    expect(t.changes.find((c) => c.endpoint === 'child' && c.to === 'DOWN')?.suppressed).toBe(false);
    await t.engine.stop(10);
  });

  it('a local error (the worker could not carry out the check) never moves the alert state', async () => {
    let ok = true;
    const t = setup(() => ok);
    t.coordinator.own([endpoint('a')]);
    t.clock.advance(1_000);
    await Promise.resolve();
    expect(t.changes.map((c) => c.to)).toEqual(['UP']);
    ok = false;
    t.runner.failWith = 'local: EMFILE';
    t.clock.advance(5_000);
    await Promise.resolve();
    expect(t.results.filter((r) => r.error === 'local: EMFILE')).toHaveLength(5);
    expect(t.changes.map((c) => c.to)).toEqual(['UP']);
    expect(t.engine.status()[0]).toMatchObject({ state: 'UP', last: { error: 'local: EMFILE' } });
    // A real failure right after still needs its full threshold (local errors are not successes either).
    t.runner.failWith = 'status 503';
    t.clock.advance(1_000);
    await Promise.resolve();
    expect(t.changes.map((c) => c.to)).toEqual(['UP', 'DOWN']);
    await t.engine.stop(10);
  });
});
