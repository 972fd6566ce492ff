import { describe, expect, it } from 'vitest';
import { type LocalFaultEpisode, LocalFaultMonitor } from '../../src/engine/local-faults.js';
import { FakeClock } from '../../src/model/clock.js';
import type { CheckResult } from '../../src/model/result.js';

const result = (error: string | null): CheckResult => ({
  endpoint: 'e',
  scheduled_at: 0,
  started_at: 0,
  duration_ms: 1,
  ok: error === null,
  status_code: error === null ? 200 : null,
  error,
  values: {},
  worker: 'w',
});

function setup() {
  const clock = new FakeClock();
  const episodes: LocalFaultEpisode[] = [];
  const dominated: boolean[] = [];
  const m = new LocalFaultMonitor({
    clock,
    onEpisode: (e) => episodes.push(e),
    onDominated: (d) => dominated.push(d),
    quietMs: 30_000,
    windowMs: 10_000,
  });
  return { clock, episodes, dominated, m };
}

describe('LocalFaultMonitor', () => {
  it('opens one episode on the first local error and closes it after a quiet stretch', () => {
    const t = setup();
    t.m.observe(result(null));
    t.m.observe(result('status 503'));
    expect(t.episodes).toEqual([]);
    for (let i = 0; i < 20; i++) {
      t.m.observe(result('local: EMFILE'));
      t.m.observe(result(null));
      t.clock.advance(1000);
    }
    expect(t.episodes).toEqual([{ degraded: true, code: 'EMFILE', count: 1, durationMs: 0 }]);
    expect(t.m.degraded).toBe(true);
    t.clock.advance(28_000);
    expect(t.episodes).toHaveLength(1);
    t.clock.advance(1_000);
    expect(t.episodes[1]).toMatchObject({ degraded: false, code: 'EMFILE', count: 20 });
    expect(t.m.degraded).toBe(false);
  });

  it('is dominated while local errors are most results of the window, and not after', () => {
    const t = setup();
    for (let i = 0; i < 5; i++) {
      t.m.observe(result('local: ENFILE'));
      t.m.observe(result('local: ENFILE'));
      t.m.observe(result(null));
      t.clock.advance(1000);
    }
    expect(t.dominated).toEqual([true]);
    for (let i = 0; i < 12; i++) {
      t.m.observe(result(null));
      t.clock.advance(1000);
    }
    expect(t.dominated).toEqual([true, false]);
  });

  it('a shutdown is not a fault', () => {
    const t = setup();
    t.m.observe(result('local: shutdown'));
    expect(t.episodes).toEqual([]);
    t.m.observe(result('local: worker thread died'));
    expect(t.episodes).toEqual([{ degraded: true, code: 'worker_thread_died', count: 1, durationMs: 0 }]);
  });
});
