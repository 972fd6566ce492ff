/**
 * etcd faults under a running cluster (issue 4 point 12), with real processes: a 3-member etcd,
 * 3 workers (`--on-partition continue`) each reaching etcd through its own proxies, 36 endpoints
 * checked every second. Steady state, the etcd leader killed (and restarted), all of etcd stopped
 * for 10 s and restarted with its data.
 *
 * Bounds (docs/CLUSTER.md "Guarantees"): leases survive a leader change and a full restart (etcd
 * extends them on election), so nothing moves: no slot missed, none checked twice, before, during
 * and after the fault.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultCluster, startFaultCluster } from '../support/cluster-fixture.js';
import { describeMeasurement, measureAfterFault } from '../support/fault-checks.js';
import { waitFor } from '../support/wait.js';

const TTL = 3;
const IDS = ['w1', 'w2', 'w3'];
const OUTAGE_MS = 10_000;

let c: FaultCluster;

beforeAll(async () => {
  c = await startFaultCluster({ etcdMembers: 3, workers: IDS.map((id) => ({ id })), leaseTtl: TTL });
}, 90_000);

afterAll(async () => {
  await c?.close();
});

/** Waits until every worker says it holds a valid lease again (/readyz → 200). */
async function waitWorkersReady(timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      const answers = await Promise.all(
        IDS.map((id) =>
          c
            .worker(id)
            .proc.http('/readyz')
            .then((r) => r.status === 200)
            .catch(() => false),
        ),
      );
      return answers.every(Boolean);
    },
    { timeoutMs, intervalMs: 200, message: 'every worker ready (lease held) again' },
  );
}

describe('etcd faults (3 members, real processes)', () => {
  it('steady state on a 3-member etcd: every slot checked exactly once', async () => {
    const m = await measureAfterFault(c, Date.now(), Date.now());
    console.info(describeMeasurement('steady state (3 members)', m));
    expect(m.settled.missed + m.settled.duplicated, await m.explain()).toBe(0);
  }, 30_000);

  it('etcd leader killed: nothing moves, no slot missed or checked twice', async () => {
    const before = await c.waitQuiet(20_000, IDS);
    const leader = await c.etcd.leader();
    const faultAt = Date.now();
    await c.etcd.killMember(leader.name);
    const next = await c.etcd.leader(10_000);
    const electedMs = Date.now() - faultAt;
    await c.etcd.startMember(leader.name);
    await waitWorkersReady(10_000);
    const recoveredAt = Date.now();
    const m = await measureAfterFault(c, faultAt, recoveredAt);
    const why = await m.explain();
    console.info(describeMeasurement(`leader ${leader.name} killed (new ${next.name})`, m, { electedMs }));
    expect(m.fault.missed, why).toBe(0);
    expect(m.fault.duplicated, why).toBe(0);
    expect(m.maxGapMs, why).toBeLessThanOrEqual(2000);
    expect(m.settled.missed + m.settled.duplicated, why).toBe(0);
    // leases survived: every jobset still has the owner it had
    const after = await c.waitOwnershipSettled(10_000, IDS);
    for (const [jsid, js] of before.jobsets) expect(after.jobsets.get(jsid)?.owner, jsid).toBe(js.owner);
  }, 60_000);

  it('all of etcd stopped for 10 s, then restarted: workers keep checking, nothing twice', async () => {
    await c.waitQuiet(20_000, IDS);
    const faultAt = Date.now();
    await c.etcd.stopAll();
    await c.waitSlotsSeen(faultAt + OUTAGE_MS, OUTAGE_MS + 10_000);
    const restartAt = Date.now();
    await c.etcd.startAll();
    await waitWorkersReady(15_000);
    const recoveredAt = Date.now();
    await c.waitOwnershipSettled(10_000, IDS);
    const m = await measureAfterFault(c, faultAt, recoveredAt);
    const why = await m.explain();
    console.info(
      describeMeasurement('all etcd down 10 s', m, {
        downMs: restartAt - faultAt,
        readyAfterRestartMs: recoveredAt - restartAt,
      }),
    );
    expect(m.fault.missed, why).toBe(0);
    expect(m.fault.duplicated, why).toBe(0);
    expect(m.maxGapMs, why).toBeLessThanOrEqual(2000);
    expect(m.settled.missed + m.settled.duplicated, why).toBe(0);
  }, 90_000);
});
