import { describe, expect, it } from 'vitest';
import { createServeCap, servedSlot } from '../../src/checks/serve-slot.js';

describe('servedSlot', () => {
  const s0 = 1_000_000;
  it('a check that starts within its interval serves its own slot', () => {
    expect(servedSlot(s0, 1000, s0 + 999, Number.POSITIVE_INFINITY)).toBe(s0);
  });
  it('started late, it serves the latest due slot of the same phase', () => {
    expect(servedSlot(s0, 1000, s0 + 3250, Number.POSITIVE_INFINITY)).toBe(s0 + 3000);
    expect(servedSlot(s0, 1000, s0 + 1000, Number.POSITIVE_INFINITY)).toBe(s0 + 1000);
  });
  it('never past the cap (slots not handed on yet, or owned elsewhere after a handover)', () => {
    expect(servedSlot(s0, 1000, s0 + 3250, s0 + 2000)).toBe(s0 + 2000);
    expect(servedSlot(s0, 1000, s0 + 3250, s0 + 1500)).toBe(s0 + 1000);
    expect(servedSlot(s0, 1000, s0 + 3250, s0 + 500)).toBe(s0);
    expect(servedSlot(s0, 1000, s0 + 3250, Number.NEGATIVE_INFINITY)).toBe(s0);
  });
  it('fixed slots (cron, everyMs 0) and NaN caps are served as queued', () => {
    expect(servedSlot(s0, 0, s0 + 99_999, Number.POSITIVE_INFINITY)).toBe(s0);
    expect(servedSlot(s0, 1000, s0 + 5000, Number.NaN)).toBe(s0);
  });
  it('the shared cap starts closed', () => {
    const cap = createServeCap();
    expect(cap.view[0]).toBe(Number.NEGATIVE_INFINITY);
    expect(new Float64Array(cap.buffer)[0]).toBe(Number.NEGATIVE_INFINITY);
  });
});
