/**
 * A worker cut off from etcd for 10 s, then healed (issue 4 point 12), with real processes. Each
 * worker reaches etcd through its own TCP proxy, so one can be cut alone ('drop': a blackhole,
 * connections stay open and nothing passes). w2 runs `--on-partition continue`, w3 `pause`.
 *
 * Bounds (docs/CLUSTER.md "Guarantees"):
 * - continue: nothing missed; duplicates only while cut off after the others took over, never for
 *   a slot after the worker recovered;
 * - pause: nothing duplicated; missed only between its pause and the takeover (≤ 2 slots here);
 * - both: every endpoint checked again within TTL + 1 s; 3 s after recovery, 5 s of slots each
 *   checked exactly once.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultCluster, startFaultCluster } from '../support/cluster-fixture.js';
import { describeMeasurement, measureAfterFault } from '../support/fault-checks.js';
import { waitFor } from '../support/wait.js';

const TTL = 3;
const TTL_MS = TTL * 1000;
const CUT_MS = 10_000;
/** recovery retries at least every TTL/3, + gRPC reconnect backoff (≤ 2 s) + keepalive + re-list */
const RECONNECT_MS = 5000;

let c: FaultCluster;

beforeAll(async () => {
  c = await startFaultCluster({
    etcdMembers: 1,
    workers: [
      { id: 'w1', onPartition: 'continue' },
      { id: 'w2', onPartition: 'continue' },
      { id: 'w3', onPartition: 'pause' },
    ],
    leaseTtl: TTL,
  });
}, 90_000);

afterAll(async () => {
  await c?.close();
});

/** Cuts `id` from etcd for CUT_MS (measured at the target), heals, waits for its recovery log. */
async function partition(id: string): Promise<{ faultAt: number; healAt: number; recoveredAt: number }> {
  const w = c.worker(id);
  const others = ['w1', 'w2', 'w3'].filter((x) => x !== id);
  await c.waitQuiet(20_000);
  const faultAt = Date.now();
  await w.proxies.cut('drop');
  // its lease expires in etcd and the others take everything over
  await c.waitOwnershipSettled(TTL_MS + 8000, others);
  // ten seconds of slots pass at the target
  await c.waitSlotsSeen(faultAt + CUT_MS, CUT_MS + 10_000);
  const healAt = Date.now();
  await w.proxies.heal();
  await w.proc.waitForLog(
    (r) => r.msg === 'recovered from partition' && Date.parse(String(r.time)) >= healAt - 5,
    RECONNECT_MS + 2000,
  );
  const recoveredAt = Date.now();
  await c.waitOwnershipSettled(15_000, ['w1', 'w2', 'w3']);
  return { faultAt, healAt, recoveredAt };
}

describe('worker cut off from etcd (real processes)', () => {
  it('--on-partition continue: keeps checking, gives up at once after heal, nothing missed', async () => {
    expect((await c.pathsOwnedBy('w2')).length).toBeGreaterThan(0);
    const t = await partition('w2');
    const m = await measureAfterFault(c, t.faultAt, t.recoveredAt);
    const why = await m.explain();
    console.info(
      describeMeasurement('partition continue', m, {
        reconnectMs: t.recoveredAt - t.healAt,
      }),
    );
    expect(t.recoveredAt - t.healAt, why).toBeLessThanOrEqual(RECONNECT_MS);
    expect(m.fault.missed, why).toBe(0);
    expect(m.maxGapMs, why).toBeLessThanOrEqual(TTL_MS + 1000);
    const lateDup = m.fault.endpoints.flatMap((e) => e.duplicated.filter((d) => d.slot > t.recoveredAt));
    expect(lateDup, why).toEqual([]);
    expect(m.settled.missed + m.settled.duplicated, why).toBe(0);
  }, 60_000);

  it('--on-partition pause: stops before the others take over, nothing twice, then rejoins', async () => {
    expect((await c.pathsOwnedBy('w3')).length).toBeGreaterThan(0);
    const t = await partition('w3');
    const m = await measureAfterFault(c, t.faultAt, t.recoveredAt);
    const why = await m.explain();
    console.info(describeMeasurement('partition pause', m, { reconnectMs: t.recoveredAt - t.healAt }));
    expect(t.recoveredAt - t.healAt, why).toBeLessThanOrEqual(RECONNECT_MS);
    expect(m.fault.duplicated, why).toBe(0);
    expect(m.fault.maxMissedPerEndpoint, why).toBeLessThanOrEqual(2);
    expect(m.maxGapMs, why).toBeLessThanOrEqual(TTL_MS + 1000);
    expect(m.settled.missed + m.settled.duplicated, why).toBe(0);
  }, 60_000);

  it('after both partitions: every log line is JSON, no "excess pings", series only of owned endpoints', async () => {
    const ids = ['w1', 'w2', 'w3'];
    for (const id of ids) {
      const text = await readFile(c.worker(id).proc.logFile, 'utf8');
      const bad = text
        .split('\n')
        .filter(Boolean)
        .filter((l) => {
          try {
            return typeof JSON.parse(l) !== 'object';
          } catch {
            return true;
          }
        });
      expect(bad, `${id}: lines that are not JSON`).toEqual([]);
      expect(text, id).not.toMatch(/excess pings|too_many_pings/);
    }
    // each worker exports watcher_checks_total only for the endpoints it owns now
    await waitFor(
      async () => {
        const view = await c.waitOwnershipSettled(10_000, ids);
        for (const id of ids) {
          const body = (await c.worker(id).proc.http('/metrics')).body;
          const exported = new Set(
            [...body.matchAll(/^watcher_checks_total\{endpoint="([^"]+)"/gm)].map((m) => m[1]!),
          );
          const owned = new Set([...view.ownerOf].filter(([, o]) => o === id).map(([name]) => name));
          if (exported.size === 0 || [...exported].some((e) => !owned.has(e))) return false;
        }
        return true;
      },
      {
        timeoutMs: 15_000,
        intervalMs: 500,
        message: 'every worker exports only the series of its own endpoints',
      },
    );
  }, 40_000);
});
