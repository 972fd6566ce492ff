/**
 * The measurements every fault test makes at the target, on top of a FaultCluster:
 * - settle: a window that starts SETTLE_MS after the cluster recovered and lasts MEASURE_MS, in
 *   which every slot of every endpoint must be checked exactly once;
 * - the fault window, from the fault to the end of the settle window: missed and duplicated slots
 *   (bounded per scenario by docs/CLUSTER.md "Guarantees") and the longest time an endpoint went
 *   without a check.
 * Time passes by waiting for the target to see slots beyond a timestamp, never by sleeping.
 */
import type { FaultCluster } from './cluster-fixture.js';
import type { WindowReport } from './slot-ledger.js';
import { waitFor } from './wait.js';

export const SETTLE_MS = 3000;
export const MEASURE_MS = 5000;

export interface FaultMeasurement {
  /** the whole fault window [faultAt, settle end) */
  fault: WindowReport;
  /** [recovered + SETTLE_MS, + MEASURE_MS) */
  settled: WindowReport;
  /** longest time any endpoint went without a check arriving, in [faultAt, settle end] */
  maxGapMs: number;
  gapAt: { path: string; at: number };
  /** failure text: both reports, who ran duplicated slots, worker log tails */
  explain(): Promise<string>;
}

/**
 * Waits for the settle and measurement windows after `recoveredAt` to pass at the target, then
 * accounts for every slot from `faultAt` on.
 */
export async function measureAfterFault(
  c: FaultCluster,
  faultAt: number,
  recoveredAt: number,
): Promise<FaultMeasurement> {
  const from = recoveredAt + SETTLE_MS;
  const to = from + MEASURE_MS;
  // slots up to `to` are dispatched once every endpoint was checked for a slot at or after it
  await c.waitSlotsSeen(to, to - Date.now() + 10_000);
  const fault = await c.measure(faultAt, to);
  const settled = await c.measure(from, to);
  const gaps = c.ledger.arrivalGaps(faultAt, to);
  const worst = gaps.reduce((a, b) => (b.maxGapMs > a.maxGapMs ? b : a));
  return {
    fault,
    settled,
    maxGapMs: worst.maxGapMs,
    gapAt: { path: worst.path, at: worst.at - faultAt },
    explain: async () =>
      `fault window from ${faultAt}, recovered +${recoveredAt - faultAt} ms; longest gap ${worst.maxGapMs} ms (${
        worst.path
      } after +${worst.at - faultAt} ms)\n--- settled ---\n${settled.summary()}\n--- whole fault window ---\n${await fault.explain()}`,
  };
}

/** One line of what a scenario measured (printed by the tests: the margins to the bounds). */
export function describeMeasurement(
  name: string,
  m: FaultMeasurement,
  extra: Record<string, number> = {},
): string {
  const parts = Object.entries(extra).map(([k, v]) => `${k} ${v}`);
  return `[fault] ${name}: fault window ${m.fault.to - m.fault.from} ms, missed ${m.fault.missed} (max ${
    m.fault.maxMissedPerEndpoint
  }/endpoint), duplicated ${m.fault.duplicated}, longest gap ${m.maxGapMs} ms, latest ${
    m.fault.maxLateMs
  } ms after slot; settled: missed ${
    m.settled.missed
  }, duplicated ${m.settled.duplicated} of ${m.settled.expected}${parts.length ? `; ${parts.join(', ')}` : ''}`;
}

/** Waits until every endpoint had a check arrive after `t` (the first check after a fault). */
export async function waitCheckedAfter(c: FaultCluster, t: number, timeoutMs: number): Promise<number> {
  const since = new Map<string, number>();
  await waitFor(
    () => {
      for (const h of c.target.hitLog) if (h.at > t && !since.has(h.path)) since.set(h.path, h.at);
      return c.endpoints.every((e) => since.has(e.path));
    },
    { timeoutMs, intervalMs: 100, message: `every endpoint checked after ${t}` },
  ).catch(async (err: unknown) => {
    const missing = c.endpoints.filter((e) => !since.has(e.path)).map((e) => e.path);
    throw new Error(`${(err as Error).message}; never: ${missing.join(' ')}\n${await c.diagnostics()}`);
  });
  return Math.max(...since.values()) - t;
}
