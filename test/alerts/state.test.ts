import { describe, expect, it } from 'vitest';
import { initialState, next } from '../../src/alerts/state.js';
import type { AlertState, Health } from '../../src/model/alert.js';
import type { CheckResult } from '../../src/model/result.js';

const T0 = Date.UTC(2026, 0, 1);

/** 'o' = ok, 'x' = failed; result k is scheduled at T0 + k s. */
function results(seq: string, endpoint = 'e'): CheckResult[] {
  return [...seq].map((c, k) => ({
    endpoint,
    scheduled_at: T0 + k * 1000,
    started_at: T0 + k * 1000 + 3,
    duration_ms: 10,
    ok: c === 'o',
    status_code: c === 'o' ? 200 : 503,
    error: c === 'o' ? null : `status 503 #${k}`,
    values: {},
    worker: 'w1',
  }));
}

/** Run a sequence; return the states after each result and the changes as "FROM>TO@k". */
function run(seq: string, failureThreshold: number, successThreshold: number, start?: AlertState) {
  let state = start ?? initialState('e');
  const states: Health[] = [];
  const changes: string[] = [];
  results(seq).forEach((r, k) => {
    const out = next(state, r, { failureThreshold, successThreshold });
    state = out.state;
    states.push(state.state);
    if (out.change) {
      expect(out.change.at).toBe(r.scheduled_at);
      changes.push(`${out.change.from}>${out.change.to}@${k}`);
    }
  });
  return { state, states, changes };
}

describe('alert state machine', () => {
  it('starts UNKNOWN with zero counters', () => {
    expect(initialState('api/health')).toEqual({
      endpoint: 'api/health',
      state: 'UNKNOWN',
      consecutiveFailures: 0,
      consecutiveSuccesses: 0,
      since: 0,
      reason: null,
    });
  });

  it.each([
    // seq, failure_threshold, success_threshold, changes
    ['o', 1, 1, ['UNKNOWN>UP@0']],
    ['x', 1, 1, ['UNKNOWN>DOWN@0']],
    ['oxo', 1, 1, ['UNKNOWN>UP@0', 'UP>DOWN@1', 'DOWN>UP@2']],
    ['oooo', 1, 1, ['UNKNOWN>UP@0']],
    ['xxxx', 1, 1, ['UNKNOWN>DOWN@0']],
    // UNKNOWN needs the thresholds too
    ['xx', 3, 1, []],
    ['xxx', 3, 1, ['UNKNOWN>DOWN@2']],
    ['o', 3, 2, []],
    ['oo', 3, 2, ['UNKNOWN>UP@1']],
    ['xxo', 3, 2, []],
    ['xxoo', 3, 2, ['UNKNOWN>UP@3']],
    // UP -> DOWN after failure_threshold consecutive failures
    ['oxx', 3, 1, ['UNKNOWN>UP@0']],
    ['oxxx', 3, 1, ['UNKNOWN>UP@0', 'UP>DOWN@3']],
    ['oxxoxxoxx', 3, 1, ['UNKNOWN>UP@0']], // a success in between resets the count
    // DOWN -> UP after success_threshold consecutive successes
    ['xo', 1, 2, ['UNKNOWN>DOWN@0']],
    ['xoo', 1, 2, ['UNKNOWN>DOWN@0', 'DOWN>UP@2']],
    ['xoxoxo', 1, 2, ['UNKNOWN>DOWN@0']], // flapping never reaches 2 successes
    ['xoxoo', 1, 2, ['UNKNOWN>DOWN@0', 'DOWN>UP@4']],
    // flapping with both thresholds > 1
    ['ooxxoxxxooxoo', 3, 2, ['UNKNOWN>UP@1', 'UP>DOWN@7', 'DOWN>UP@9']],
    ['oxoxoxoxox', 2, 2, []],
    [
      'oxoxoxoxox',
      1,
      1,
      'UNKNOWN>UP@0 UP>DOWN@1 DOWN>UP@2 UP>DOWN@3 DOWN>UP@4 UP>DOWN@5 DOWN>UP@6 UP>DOWN@7 DOWN>UP@8 UP>DOWN@9'.split(
        ' ',
      ),
    ],
    // thresholds below 1 count as 1
    ['x', 0, 0, ['UNKNOWN>DOWN@0']],
  ])('%s with failure_threshold=%d success_threshold=%d', (seq, f, s, expected) => {
    expect(run(seq, f, s).changes).toEqual(expected);
  });

  it('counts consecutive results and keeps the failure reason while DOWN', () => {
    const { state } = run('oxxxx', 2, 1);
    expect(state).toMatchObject({ state: 'DOWN', consecutiveFailures: 4, consecutiveSuccesses: 0 });
    expect(state.reason).toBe('status 503 #4');
    expect(state.since).toBe(T0 + 2000);
    const up = run('xxoo', 1, 2).state;
    expect(up).toMatchObject({ state: 'UP', consecutiveFailures: 0, consecutiveSuccesses: 2, reason: null });
    expect(up.since).toBe(T0 + 3000);
  });

  it('reports the failure reason on a DOWN change and null on UP', () => {
    const [r0, r1] = results('xo');
    const down = next(initialState('e'), r0!, { failureThreshold: 1, successThreshold: 1 });
    expect(down.change).toEqual({ from: 'UNKNOWN', to: 'DOWN', at: T0, reason: 'status 503 #0' });
    const up = next(down.state, r1!, { failureThreshold: 1, successThreshold: 1 });
    expect(up.change).toEqual({ from: 'DOWN', to: 'UP', at: T0 + 1000, reason: null });
    const noError = next(
      initialState('e'),
      { ...r0!, error: null },
      { failureThreshold: 1, successThreshold: 1 },
    );
    expect(noError.change?.reason).toBe('failed');
  });

  it('continues a loaded DOWN state: more failures make no change', () => {
    const loaded: AlertState = {
      endpoint: 'e',
      state: 'DOWN',
      consecutiveFailures: 5,
      consecutiveSuccesses: 0,
      since: T0 - 60_000,
      reason: 'timeout',
    };
    const { changes, state } = run('xxx', 3, 1, loaded);
    expect(changes).toEqual([]);
    expect(state.consecutiveFailures).toBe(8);
    expect(run('xo', 3, 1, loaded).changes).toEqual(['DOWN>UP@1']);
  });

  it('ignores a stale result scheduled before the last transition', () => {
    const s: AlertState = { ...initialState('e'), state: 'DOWN', since: T0 + 5000, consecutiveFailures: 1 };
    const stale = { ...results('o')[0]!, scheduled_at: T0 + 4000 };
    const out = next(s, stale, { failureThreshold: 1, successThreshold: 1 });
    expect(out.change).toBeNull();
    expect(out.state).toBe(s);
  });

  it('does not mutate its input', () => {
    const s = initialState('e');
    const copy = { ...s };
    next(s, results('x')[0]!, { failureThreshold: 1, successThreshold: 1 });
    expect(s).toEqual(copy);
  });
});
