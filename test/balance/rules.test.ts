/**
 * The pure balancing and shedding rules (no etcd): ShedController windows, estimate and
 * hysteresis; planMoves with rate caps and the no-move-back rule.
 */
import { describe, expect, it } from 'vitest';
import { type Candidate, hasRoom, planClaims, planMoves } from '../../src/cluster/etcd/plan.js';
import { ShedController, type ShedTuning } from '../../src/cluster/etcd/shedding.js';

const tuning: ShedTuning = {
  shedBehindFraction: 0.05,
  shedWindowMs: 5000,
  recoverWindowMs: 30_000,
  shedHeadroom: 0.7,
  rateCapHoldMs: 600_000,
};

const lagOf = (n: number, lagMs: number) =>
  new Map(Array.from({ length: n }, (_, i) => [`j${i}`, { lagMs, intervalMs: 1000 }]));

describe('ShedController', () => {
  it('sheds only after a full window of overload, down to the rate estimated from the lag slope', () => {
    const s = new ShedController(tuning);
    // 40 checks/s owned; lag grows 0.2 s per s → serves 40 / 1.2 ≈ 33.3/s → keep 0.7 × 33.3
    let step = s.update(lagOf(40, 200), 40, 0);
    for (let t = 1000; t < 5000; t += 1000) {
      step = s.update(lagOf(40, 200 + 0.2 * t), 40, t);
      expect(step.targetRate).toBeNull();
      expect(s.shedding).toBe(false);
    }
    step = s.update(lagOf(40, 200 + 0.2 * 5000), 40, 5000);
    expect(s.shedding).toBe(true);
    expect(step.changed).toBe(true);
    expect(step.slope).toBeCloseTo(0.2, 5);
    expect(step.targetRate).toBeCloseTo((40 / 1.2) * 0.7, 5);
  });

  it('does not shed again while the backlog drains; recovers after the recovery window with a rate cap', () => {
    const s = new ShedController(tuning);
    s.update(lagOf(40, 2000), 40, 0);
    expect(s.update(lagOf(40, 2000), 40, 5000).targetRate).not.toBeNull(); // flat lag: shed
    s.shed(23, 5000);
    expect(s.rateCap).toBe(23);
    // draining: lag falls fast → no further shed
    for (let t = 6000; t <= 10_000; t += 1000) {
      expect(s.update(lagOf(23, 2000 - (t - 5000) * 0.3), 23, t).targetRate).toBeNull();
    }
    // healthy from 11 s: still shedding until 41 s
    for (let t = 11_000; t < 41_000; t += 1000) s.update(lagOf(23, 5), 23, t);
    expect(s.shedding).toBe(true);
    const step = s.update(lagOf(23, 5), 23, 41_000);
    expect(step.changed).toBe(true);
    expect(s.shedding).toBe(false);
    expect(s.rateCap).toBe(23); // held: the rebalancer does not hand the work back
    // the cap lifts after its hold
    expect(s.update(lagOf(23, 5), 23, 5000 + 600_000).changed).toBe(true);
    expect(s.rateCap).toBeNull();
  });

  it('a single late job among many is not overload; one late report does not reset recovery into shedding', () => {
    const s = new ShedController(tuning);
    const stats = lagOf(40, 5);
    stats.set('j0', { lagMs: 5000, intervalMs: 1000 }); // 1/40 = 2.5% < 5%
    for (let t = 0; t <= 20_000; t += 1000) expect(s.update(stats, 40, t).targetRate).toBeNull();
    expect(s.shedding).toBe(false);
  });
});

describe('planners', () => {
  const w = (id: string, rate: number, extra: Partial<Candidate> = {}): Candidate => ({
    id,
    capacity: null,
    jobs: rate,
    rate,
    shedding: false,
    ...extra,
  });

  it('a rate cap is room like --capacity', () => {
    expect(hasRoom(w('a', 10, { rateCap: 11 }), 1, 1)).toBe(true);
    expect(hasRoom(w('a', 10, { rateCap: 10.5 }), 1, 1)).toBe(false);
    const plan = planClaims([{ id: 'x', jobs: 1, rate: 1 }], [w('a', 0, { rateCap: 0.5 }), w('b', 5)]);
    expect(plan.get('x')).toEqual(['b']);
  });

  it('moves towards even checks/s, never back to where a jobset just came from, never above a cap', () => {
    const owned = Array.from({ length: 10 }, (_, i) => ({
      id: `s${i}`,
      owner: 'a',
      jobs: 1,
      rate: 1,
      movable: true,
    }));
    const moves = planMoves([w('a', 10), w('b', 0)], owned, { maxMoves: 32 });
    expect(moves).toHaveLength(5);
    // every jobset of a just came from b: nothing moves back
    const back = owned.map((j) => ({ ...j, notTo: 'b' }));
    expect(planMoves([w('a', 10), w('b', 0)], back, { maxMoves: 32 })).toEqual([]);
    // b capped at 2 checks/s: only 2 move
    expect(planMoves([w('a', 10), w('b', 0, { rateCap: 2 })], owned, { maxMoves: 32 })).toHaveLength(2);
    // equal loads: nothing moves
    const half = owned.map((j, i) => ({ ...j, owner: i < 5 ? 'a' : 'b' }));
    expect(planMoves([w('a', 5), w('b', 5)], half, { maxMoves: 32 })).toEqual([]);
  });
});
