import { describe, expect, it } from 'vitest';
import { AlertBook } from '../../src/alerts/index.js';
import { ConfirmGate, type ConfirmVerdict } from '../../src/engine/confirm-gate.js';
import type { StateChange } from '../../src/model/alert.js';
import type { CheckResult } from '../../src/model/result.js';
import { endpoint } from './fixtures.js';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent } as never;

function result(at: number, ok: boolean): CheckResult {
  return {
    endpoint: 'e',
    scheduled_at: at,
    started_at: at,
    duration_ms: 1,
    ok,
    status_code: ok ? 200 : null,
    error: ok ? null : 'connect ECONNREFUSED',
    values: {},
    worker: 'w1',
  };
}

/** The engine's use of the gate: offer, else deliver; deliver applies to the book unless told not to. */
function harness(opts: { confirm?: number; threshold?: number; confirmer: boolean; moveAfter?: number }) {
  const ep = { ...endpoint('e'), alert: { failureThreshold: opts.threshold ?? 1, successThreshold: 1 } };
  if (opts.confirm) ep.confirm = opts.confirm;
  const book = new AlertBook();
  book.configure('e', { policy: ep.alert, dependsOn: [] });
  const asked: Array<{ r: CheckResult; answer: (v: ConfirmVerdict) => void }> = [];
  const delivered: CheckResult[] = [];
  const changes: StateChange[] = [];
  const refuted: number[] = [];
  const moved: string[] = [];
  const gate = new ConfirmGate({
    logger: silent,
    moveAfter: opts.moveAfter,
    confirmer: () =>
      opts.confirmer
        ? { confirm: (_e, r) => new Promise<ConfirmVerdict>((answer) => asked.push({ r, answer })) }
        : null,
    onRefuted: (_e, _r, _v, streak) => refuted.push(streak),
    onMoveAway: (e) => moved.push(e.name),
  });
  const deliver = (r: CheckResult, apply: boolean) => {
    delivered.push(r);
    if (!apply) return;
    const c = book.apply(r);
    if (c) changes.push(c);
  };
  const push = (r: CheckResult) => {
    if (!gate.offer(ep, r, () => book.get('e'), deliver)) deliver(r, true);
  };
  const flush = () => new Promise((r) => setTimeout(r, 0));
  return { push, asked, delivered, changes, refuted, moved, book, flush, gate };
}

describe('ConfirmGate', () => {
  it('without confirm, nothing is held or asked', () => {
    const h = harness({ confirmer: true });
    h.push(result(1000, false));
    expect(h.asked).toHaveLength(0);
    expect(h.changes.map((c) => c.to)).toEqual(['DOWN']);
    expect(h.delivered[0]!.confirm).toBeUndefined();
  });

  it('asks only for the failure that would make it DOWN, and goes DOWN when the other fails too', async () => {
    const h = harness({ confirm: 1, threshold: 3, confirmer: true });
    h.push(result(1000, false));
    h.push(result(2000, false));
    expect(h.asked).toHaveLength(0);
    h.push(result(3000, false));
    expect(h.asked).toHaveLength(1);
    expect(h.changes).toHaveLength(0);
    h.push(result(4000, false)); // waits behind the verdict
    expect(h.gate.holding('e')).toBe(2);
    h.asked[0]!.answer({ outcome: 'confirmed', by: 'w2', error: 'connect ECONNREFUSED' });
    await h.flush();
    expect(h.changes.map((c) => [c.to, c.at])).toEqual([['DOWN', 3000]]);
    expect(h.delivered.map((r) => r.scheduled_at)).toEqual([1000, 2000, 3000, 4000]);
    expect(h.delivered[2]!.confirm).toEqual({
      outcome: 'confirmed',
      by: 'w2',
      error: 'connect ECONNREFUSED',
    });
    expect(h.asked).toHaveLength(1); // already DOWN: nothing more to confirm
  });

  it('refuted: marked unconfirmed, not applied, reported; moves after N in a row', async () => {
    const h = harness({ confirm: 1, confirmer: true, moveAfter: 2 });
    h.push(result(1000, false));
    h.asked[0]!.answer({ outcome: 'refuted', by: 'w2', error: null });
    await h.flush();
    expect(h.delivered[0]!.unconfirmed).toBe(true);
    expect(h.book.get('e')!.consecutiveFailures).toBe(0);
    expect(h.changes).toHaveLength(0);
    expect(h.refuted).toEqual([1]);
    expect(h.moved).toEqual([]);
    h.push(result(2000, false));
    h.asked[1]!.answer({ outcome: 'refuted', by: 'w3', error: null });
    await h.flush();
    expect(h.refuted).toEqual([1, 2]);
    expect(h.moved).toEqual(['e']);
    expect(h.changes).toHaveLength(0);
  });

  it('a success resets the streak', async () => {
    const h = harness({ confirm: 1, confirmer: true, moveAfter: 2 });
    h.push(result(1000, false));
    h.asked[0]!.answer({ outcome: 'refuted', by: 'w2', error: null });
    await h.flush();
    h.push(result(2000, true));
    h.push(result(3000, false));
    h.asked[1]!.answer({ outcome: 'refuted', by: 'w2', error: null });
    await h.flush();
    expect(h.refuted).toEqual([1, 1]);
    expect(h.moved).toEqual([]);
  });

  it('no answer, or nobody to ask: DOWN as without confirm, and the result says so', async () => {
    const h = harness({ confirm: 1, confirmer: true });
    h.push(result(1000, false));
    h.asked[0]!.answer({ outcome: 'no_answer', by: null, error: null });
    await h.flush();
    expect(h.changes.map((c) => c.to)).toEqual(['DOWN']);
    expect(h.delivered[0]!.confirm?.outcome).toBe('no_answer');
    const alone = harness({ confirm: 1, confirmer: false });
    alone.push(result(1000, false));
    expect(alone.changes.map((c) => c.to)).toEqual(['DOWN']);
    expect(alone.delivered[0]!.confirm?.outcome).toBe('unavailable');
  });
});
