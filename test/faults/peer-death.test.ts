/**
 * Peer-observed death with real processes (issue 14 points 1 and 3): 3 workers with the default
 * lease TTL (5 s), 30 endpoints every second, each worker restarted on the same port.
 *
 * - False positives first: graceful restarts on the same ports and SIGSTOP for 2.5 s (under the
 *   TTL) → no worker revokes anyone (metric on every worker, log lines of every incarnation).
 * - Then 20 × (kill -9, the dead worker's endpoints checked again, restart on the same port,
 *   rejoin): every jobset is owned again under a live lease within 1 s of the kill (p99; the TTL
 *   path takes 5–6 s); no slot of the dead worker's endpoints due after a kill is missed (its
 *   stream carried its dispatch horizon: the new owners catch up every slot it never handed on);
 *   every endpoint is checked again within one interval (+ 200 ms) of the kill (p99); no slot is
 *   checked twice over the whole run. Printed: the distributions of the takeover, of "every
 *   endpoint checked again", of kill → stream dropped, and where each takeover caught up from.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultCluster, startFaultCluster } from '../support/cluster-fixture.js';
import { describeMeasurement, measureAfterFault } from '../support/fault-checks.js';
import type { WorkerProcess } from '../support/processes.js';
import { waitFor } from '../support/wait.js';

const TTL = 5;
const IDS = ['w1', 'w2', 'w3'];
const KILLS = Number(process.env.WATCHER_PEER_KILLS ?? 20);
const REVOKED = 'peer process died: released its jobsets and revoked its lease';
const KILL_MARGIN_MS = 50;
const CHECKED_AGAIN_SLACK_MS = 200;

let c: FaultCluster;
/** every incarnation, for their logs */
const procs: WorkerProcess[] = [];

beforeAll(async () => {
  c = await startFaultCluster({
    etcdMembers: 1,
    workers: IDS.map((id) => ({ id })),
    leaseTtl: TTL,
    endpoints: 30,
    samePorts: true,
  });
  for (const id of IDS) procs.push(c.worker(id).proc);
}, 90_000);

afterAll(async () => {
  await c?.close();
});

async function restart(id: string): Promise<void> {
  procs.push(await c.startWorker(id));
}

async function revocationsMetric(id: string): Promise<number> {
  const text = (await c.worker(id).proc.http('/metrics')).body;
  const m = /^watcher_peer_revocations_total (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

const revocationLogs = (): number =>
  procs.reduce((n, p) => n + p.logs().filter((r) => r.msg === REVOKED).length, 0);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

describe('peer-observed death (real processes, default TTL)', () => {
  it('graceful restarts on the same ports and SIGSTOP under the TTL: no revocation', async () => {
    await c.waitQuiet(30_000, IDS);
    for (const id of IDS) {
      const info = await c.worker(id).proc.stop(10_000);
      expect(info.code, `${id} exit`).toBe(0);
      await restart(id);
      expect(c.worker(id).proc.listen).toBe(procs[IDS.indexOf(id)]!.listen);
      await c.waitOwnershipSettled(20_000, IDS);
    }
    for (const id of IDS) {
      const p = c.worker(id).proc;
      p.pause();
      await new Promise((r) => setTimeout(r, 2500));
      p.resume();
      await c.waitOwnershipSettled(20_000, IDS);
    }
    const v = await c.view();
    for (const id of IDS) {
      expect(await revocationsMetric(id), `${id} revocations`).toBe(0);
      // nobody's lease changed by the pauses: the records are the restarted incarnations'
      expect(v.workers.get(id)).toBeDefined();
    }
    expect(revocationLogs()).toBe(0);
  }, 120_000);

  it("20 × kill -9: the dead worker's jobsets run elsewhere within 1 s (p99), no slot twice", async () => {
    await c.waitQuiet(30_000, IDS);
    const firstKillAt = Date.now();
    /** kill → every jobset owned again under a live lease, the dead worker's record gone */
    const takeover: number[] = [];
    /** kill → the last of the dead worker's endpoints checked again */
    const checkedAgain: number[] = [];
    const kills: Array<{ at: number; owned: string[] }> = [];
    for (let k = 0; k < KILLS; k++) {
      const victim = IDS[k % IDS.length]!;
      const owned = await c.pathsOwnedBy(victim);
      expect(owned.length, `${victim} owns something`).toBeGreaterThan(0);
      const killAt = Date.now();
      c.worker(victim).proc.kill('SIGKILL');
      const ownedAgain = waitFor(
        async () => {
          const v = await c.view();
          const live = !v.workers.has(victim) && [...v.jobsets.values()].every((js) => js.live);
          return live ? Date.now() - killAt : undefined;
        },
        {
          timeoutMs: TTL * 1000 + 3000,
          intervalMs: 10,
          message: `kill ${k}: ${victim}'s jobsets owned again`,
        },
      );
      const first = new Map<string, number>();
      await waitFor(
        () => {
          for (const h of c.target.hitLog)
            if (h.at > killAt && owned.includes(h.path) && !first.has(h.path)) first.set(h.path, h.at);
          return first.size === owned.length;
        },
        {
          timeoutMs: TTL * 1000 + 5000,
          intervalMs: 20,
          message: `kill ${k}: ${victim}'s endpoints checked again`,
        },
      );
      checkedAgain.push(Math.max(...first.values()) - killAt);
      takeover.push(await ownedAgain);
      kills.push({ at: killAt, owned });
      await c.worker(victim).proc.exited;
      await restart(victim);
      await c.waitOwnershipSettled(20_000, IDS, 1000);
    }
    const elapsed = Date.now() - firstKillAt;
    const m = await measureAfterFault(c, firstKillAt, Date.now());
    const why = await m.explain();
    // slots of the dead worker's endpoints due after the kill and missed: the stream carried its
    // dispatch horizon, so the new owners catch up every slot it never handed on (a margin of
    // KILL_MARGIN_MS for the time between the test's clock read and the signal)
    const lateMisses = kills.flatMap(({ at, owned }) =>
      c.ledger
        .report(at + KILL_MARGIN_MS, at + 3000)
        .endpoints.filter((e) => owned.includes(e.path))
        .flatMap((e) => e.missed.map((s) => `${e.path}@+${s - at}`)),
    );
    const deadBy = procs
      .flatMap((p) => p.logs().filter((r) => r.msg === REVOKED))
      .map((r) => Number(r.deadBy))
      .sort((a, b) => a - b);
    const dropped = kills.map(({ at }) => (deadBy.find((d) => d >= at) ?? Number.NaN) - at);
    const revoked = procs.flatMap((p) => p.logs().filter((r) => r.msg === REVOKED));
    // kill → where the new owners caught up from (negative: the last slot it handed on)
    const catchUp = kills.map(({ at }) => {
      const r = revoked.find((x) => Number(x.deadBy) >= at);
      return r ? Number(r.catchUpFrom) - at : Number.NaN;
    });
    const dist = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return `p50 ${percentile(s, 50)} / p99 ${percentile(s, 99)} / max ${s.at(-1)} ms`;
    };
    const line = `[fault] peer death ×${KILLS} (${elapsed} ms): owned again after the kill ${dist(
      takeover,
    )}; every endpoint checked again ${dist(checkedAgain)}; kill → stream dropped ${dist(
      dropped,
    )}; revocations logged ${revocationLogs()}; slots missed that were due after a kill: ${lateMisses.length}`;
    console.info(line);
    console.info(
      `[fault] per kill: owned again ${takeover.join(' ')}; checked again ${checkedAgain.join(' ')}; caught up from ${catchUp.join(' ')}`,
    );
    console.info(describeMeasurement('peer death ×20', m));
    // a kill whose new owners could not catch up from the stream's horizon (the death was dated
    // by a refusal): what its watchers saw
    const gone = procs.flatMap((p) => p.logs().filter((r) => String(r.msg).startsWith('peer process gone')));
    for (const [k, { at }] of kills.entries())
      if (!(catchUp[k]! < 0))
        console.info(
          `[fault] kill ${k} caught up from the death: ${JSON.stringify(
            gone
              .filter((r) => Number(r.deadBy) >= at && Number(r.deadBy) < at + 5000)
              .map((r) => ({
                by: r.worker,
                quick: r.quick,
                horizon: r.horizon,
                deadBy: Number(r.deadBy) - at,
              })),
          )}`,
        );
    expect(
      percentile(
        [...takeover].sort((a, b) => a - b),
        99,
      ),
      line,
    ).toBeLessThanOrEqual(1000);
    expect(lateMisses, line).toEqual([]);
    // "Checked again within 1 s" has a floor of one interval (1 s here): the endpoint checked just
    // before the kill is next due one interval later. With no slot lost (asserted above), what is
    // left above it is the new owners' dispatch lateness, which a loaded 2-core host stretches to
    // ~100 ms; a lost slot or a takeover by the TTL path would be 1.1–6 s.
    expect(
      percentile(
        [...checkedAgain].sort((a, b) => a - b),
        99,
      ),
      line,
    ).toBeLessThanOrEqual(1000 + CHECKED_AGAIN_SLACK_MS);
    expect(revocationLogs(), line).toBe(KILLS);
    expect(m.fault.duplicated, why).toBe(0);
    expect(m.settled.missed + m.settled.duplicated, why).toBe(0);
    expect(elapsed).toBeLessThan(240_000);
  }, 300_000);
});
