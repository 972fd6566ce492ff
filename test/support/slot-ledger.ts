/**
 * Exact accounting of interval checks seen by the test target: every check names its slot
 * (`x-watcher-scheduled-at`), so the hits of an endpoint can be matched one-to-one with the slots
 * its schedule produces (`phase + k × interval`, the scheduler's own phase function). A window
 * report lists, per endpoint, the slots nobody checked and the slots checked more than once, and
 * the longest time between two checks arriving.
 */
import { phaseOf } from '../../src/schedule/slots.js';

export interface Hit {
  path: string;
  at: number;
  slot: number | null;
}

export interface LedgerEndpoint {
  /** endpoint name (= scheduler phase key), e.g. `127.0.0.1:PORT/count/e00` */
  name: string;
  /** path the target sees, e.g. `/count/e00` */
  path: string;
}

export interface EndpointWindow {
  path: string;
  expected: number;
  missed: number[];
  duplicated: Array<{ slot: number; count: number }>;
}

export interface WindowReport {
  from: number;
  to: number;
  endpoints: EndpointWindow[];
  /** total slots in the window (all endpoints) */
  expected: number;
  missed: number;
  duplicated: number;
  /** most slots missed by one endpoint */
  maxMissedPerEndpoint: number;
  /** hits whose slot is not on the endpoint's grid, or without a slot header */
  offGrid: number;
  /**
   * Latest arrival after its slot among the window's hits. Near or above the interval, a worker
   * was stalled (CPU starvation): its scheduler then skips to the latest slot by design, which
   * shows up as missed slots that are not an ownership problem.
   */
  maxLateMs: number;
  /** one line per endpoint with a problem (or "ok") */
  summary(): string;
}

export class SlotLedger {
  private readonly phases = new Map<string, number>();

  constructor(
    private readonly hitLog: readonly Hit[],
    readonly endpoints: readonly LedgerEndpoint[],
    readonly everyMs = 1000,
  ) {
    for (const e of endpoints) this.phases.set(e.path, phaseOf(e.name, everyMs));
  }

  /** The endpoint's slots in [from, to). */
  slots(path: string, from: number, to: number): number[] {
    const phase = this.phases.get(path);
    if (phase === undefined) throw new Error(`unknown endpoint path ${path}`);
    const out: number[] = [];
    let s = phase + Math.ceil((from - phase) / this.everyMs) * this.everyMs;
    for (; s < to; s += this.everyMs) out.push(s);
    return out;
  }

  /** Hits grouped by endpoint path (only known endpoints). */
  private byPath(): Map<string, Hit[]> {
    const m = new Map<string, Hit[]>();
    for (const e of this.endpoints) m.set(e.path, []);
    for (const h of this.hitLog) m.get(h.path)?.push(h);
    return m;
  }

  /** Slot-by-slot accounting of [from, to). */
  report(from: number, to: number): WindowReport {
    const byPath = this.byPath();
    const endpoints: EndpointWindow[] = [];
    let offGrid = 0;
    let maxLateMs = 0;
    for (const e of this.endpoints) {
      const phase = this.phases.get(e.path)!;
      const counts = new Map<number, number>();
      for (const h of byPath.get(e.path) ?? []) {
        if (h.slot === null || !Number.isFinite(h.slot)) {
          offGrid++;
          continue;
        }
        if ((((h.slot - phase) % this.everyMs) + this.everyMs) % this.everyMs !== 0) {
          offGrid++;
          continue;
        }
        if (h.slot < from || h.slot >= to) continue;
        maxLateMs = Math.max(maxLateMs, h.at - h.slot);
        counts.set(h.slot, (counts.get(h.slot) ?? 0) + 1);
      }
      const expected = this.slots(e.path, from, to);
      const missed = expected.filter((s) => !counts.has(s));
      const duplicated = [...counts]
        .filter(([, c]) => c > 1)
        .map(([slot, count]) => ({ slot, count }))
        .sort((a, b) => a.slot - b.slot);
      endpoints.push({ path: e.path, expected: expected.length, missed, duplicated });
    }
    const missed = endpoints.reduce((n, e) => n + e.missed.length, 0);
    const duplicated = endpoints.reduce((n, e) => n + e.duplicated.reduce((k, d) => k + d.count - 1, 0), 0);
    return {
      from,
      to,
      endpoints,
      expected: endpoints.reduce((n, e) => n + e.expected, 0),
      missed,
      duplicated,
      maxMissedPerEndpoint: Math.max(0, ...endpoints.map((e) => e.missed.length)),
      offGrid,
      maxLateMs,
      summary: () => {
        const bad = endpoints.filter((e) => e.missed.length > 0 || e.duplicated.length > 0);
        if (bad.length === 0) return `ok: ${endpoints.length} endpoints, [${from}, ${to})`;
        return [
          `window [${from}, ${to}) (${to - from} ms): ${missed} missed, ${duplicated} duplicated, latest arrival ${maxLateMs} ms after its slot`,
          ...bad.map(
            (e) =>
              `  ${e.path}: missed ${e.missed.map((s) => `${s}(${s - from})`).join(' ') || '-'}; dup ${
                e.duplicated.map((d) => `${d.slot}(${d.slot - from})×${d.count}`).join(' ') || '-'
              }`,
          ),
        ].join('\n');
      },
    };
  }

  /**
   * Per endpoint, the longest time without a check arriving within [from, to]: the gaps between
   * consecutive arrivals, counting `from` itself as a check (so the first check after a fault at
   * `from` must come within the bound too).
   */
  arrivalGaps(from: number, to: number): Array<{ path: string; maxGapMs: number; at: number }> {
    const byPath = this.byPath();
    return this.endpoints.map((e) => {
      let prev = from;
      let maxGapMs = 0;
      let at = from;
      for (const h of byPath.get(e.path) ?? []) {
        if (h.at <= from || h.at > to) continue;
        if (h.at - prev > maxGapMs) {
          maxGapMs = h.at - prev;
          at = prev;
        }
        prev = h.at;
      }
      if (to - prev > maxGapMs) {
        maxGapMs = to - prev;
        at = prev;
      }
      return { path: e.path, maxGapMs, at };
    });
  }

  /** Endpoints without a hit for a slot at or after `slot`. */
  notSeenSince(slot: number): string[] {
    const latest = new Map<string, number>();
    for (const h of this.hitLog) {
      if (h.slot !== null && h.slot > (latest.get(h.path) ?? Number.NEGATIVE_INFINITY))
        latest.set(h.path, h.slot);
    }
    return this.endpoints.filter((e) => (latest.get(e.path) ?? -1) < slot).map((e) => e.path);
  }
}
