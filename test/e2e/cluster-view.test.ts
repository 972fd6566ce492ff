/**
 * The whole cluster from one worker, with a real etcd and two worker processes: /api/v1/status
 * (cluster scope lists the endpoints of both with their owner, `?scope=local` only its own, a
 * worker that does not answer is named and its endpoints have state null) and /api/v1/events
 * (the other worker's results and state changes relayed, with `origin`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusDoc } from '../../src/server/status-doc.js';
import { openSse } from '../server/support.js';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { type FlipTarget, startFlipTarget } from '../support/flip-target.js';
import { freePort, killAllSpawned, spawnWorker, type WorkerProcess } from '../support/processes.js';
import { waitFor } from '../support/wait.js';

const N = 12;

describe('cluster view (etcd, two worker processes)', () => {
  let etcd: EtcdCluster;
  let target: FlipTarget;
  let dir: string;
  let w1: WorkerProcess;
  let w2: WorkerProcess;
  const status = async (w: WorkerProcess, query = '') =>
    (await w.http(`/api/v1/status${query}`, { signal: AbortSignal.timeout(5000) })).json<StatusDoc>();

  beforeAll(async () => {
    etcd = await startEtcdCluster({ members: 1 });
    target = await startFlipTarget();
    dir = mkdtempSync(join(tmpdir(), 'watcher-cview-'));
    const lines: string[] = [];
    for (let i = 0; i < N; i++) lines.push(`${target.host}/e${i}:`, '  scheme: http', '  interval: 1s');
    writeFileSync(join(dir, 'jobs.yml'), `${lines.join('\n')}\n`);
    const common = {
      etcd: etcd.clientUrls,
      endpointsDir: dir,
      leaseTtl: 10,
      extraArgs: ['--cluster', 'cview', '--threads', '1'],
    };
    w1 = await spawnWorker({ id: 'cv-1', ...common });
    await w1.waitReady(20_000, '/readyz');
    // cv-2 listens on the wildcard address and advertises a reachable one (as in a container)
    const port = await freePort();
    w2 = await spawnWorker({
      id: 'cv-2',
      ...common,
      listen: `0.0.0.0:${port}`,
      extraArgs: [...common.extraArgs, '--advertise', `127.0.0.1:${port}`],
    });
    await w2.waitReady(20_000, '/readyz');
    await waitFor(
      async () => {
        const s = await status(w1);
        const owners = new Set(s.endpoints.map((e) => e.owner));
        return (
          s.endpoints.length === N &&
          owners.has('cv-1') &&
          owners.has('cv-2') &&
          s.endpoints.every((e) => e.state !== null && e.last)
        );
      },
      { timeoutMs: 30_000, intervalMs: 300, message: 'both workers own and report endpoints' },
    );
  });

  afterAll(async () => {
    await killAllSpawned();
    await target?.close();
    await etcd?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('cluster scope: every endpoint of both workers, with owner, state, result and history', async () => {
    const s = await status(w1);
    expect(s.version).toBe(2);
    expect(s.scope).toBe('cluster');
    expect(s.partial).toBe(false);
    expect(s.unanswered).toEqual([]);
    expect(s.endpoints.map((e) => e.name)).toEqual(
      [...Array(N).keys()].map((i) => `${target.host}/e${i}`).sort(),
    );
    const e = s.endpoints[0]!;
    expect(Object.keys(e).sort()).toEqual(
      [
        'depends_on',
        'file',
        'history_ms',
        'last',
        'maintenance',
        'name',
        'next_due',
        'owner',
        'paused',
        'silenced',
        'since',
        'skipped_slots',
        'state',
        'suppressed',
        'url',
      ].sort(),
    );
    expect(e.last).toMatchObject({ ok: true, status_code: 200, error: null });
    expect(e.history_ms.length).toBeGreaterThan(0);
    expect(s.cluster.workers.map((w) => [w.id, w.answered])).toEqual([
      ['cv-1', true],
      ['cv-2', true],
    ]);
    for (const w of s.cluster.workers) {
      expect(w.address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(w.lease_ok).toBe(true);
      expect(typeof w.coverage).toBe('number');
      expect(w.jobs).toBeGreaterThan(0);
    }
    expect(s.cluster.workers.filter((w) => w.admin)).toHaveLength(1);
    expect(s.cluster.jobsets.reduce((n, j) => n + j.jobs, 0)).toBe(N);
    // one naming style: no camelCase key anywhere in the document
    expect(JSON.stringify(s)).not.toMatch(/"[a-z]+[A-Z][A-Za-z]*":/);
  });

  it('local scope: only the endpoints this worker owns', async () => {
    // two answers taken one after the other: a jobset moving between them (rebalance after the
    // second worker joined) can show in both or neither, so ask until a pair agrees
    const [l1, l2] = await waitFor(
      async () => {
        const pair = [await status(w1, '?scope=local'), await status(w2, '?scope=local')] as const;
        return pair[0].endpoints.length + pair[1].endpoints.length === N ? pair : null;
      },
      { timeoutMs: 10_000, intervalMs: 200, message: 'two local answers that add up to every endpoint' },
    );
    expect(l1.scope).toBe('local');
    expect(l1.endpoints.every((e) => e.owner === 'cv-1')).toBe(true);
    expect(l2.endpoints.every((e) => e.owner === 'cv-2')).toBe(true);
    expect(l1.endpoints.length + l2.endpoints.length).toBe(N);
    expect(l1.endpoints.length).toBeGreaterThan(0);
    expect(l1.endpoints.length).toBeLessThan(N);
  });

  it("relays the other worker's results and state changes on /api/v1/events", async () => {
    const s = await status(w1);
    const theirs = s.endpoints.find((e) => e.owner === 'cv-2')!;
    const sse = await openSse(`http://${w1.listen}/api/v1/events`);
    try {
      await waitFor(
        () => sse.events.some((e) => e.event === 'result' && JSON.parse(e.data).origin === 'cv-2'),
        {
          timeoutMs: 10_000,
          message: 'a result of cv-2 relayed by cv-1',
        },
      );
      target.set(`/${theirs.name.split('/').pop()}`, 503);
      const down = await waitFor(
        () =>
          sse.events.find((e) => {
            if (e.event !== 'state') return false;
            const d = JSON.parse(e.data) as { endpoint: string; to: string; origin: string };
            return d.endpoint === theirs.name && d.to === 'DOWN';
          }),
        { timeoutMs: 15_000, message: `DOWN of ${theirs.name} relayed` },
      );
      expect(JSON.parse(down.data).origin).toBe('cv-2');
      expect(sse.events.every((e) => e.event === 'reset' || e.id !== null)).toBe(true);
    } finally {
      sse.close();
      target.set(`/${theirs.name.split('/').pop()}`, 200);
    }
  });

  it('names a worker that does not answer; its endpoints stay listed with state null', async () => {
    process.kill(w2.pid, 'SIGSTOP');
    try {
      const t0 = Date.now();
      const s = await waitFor(
        async () => {
          const d = await status(w1);
          return d.partial ? d : null;
        },
        { timeoutMs: 8000, intervalMs: 200, message: 'partial answer' },
      );
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(s.unanswered).toEqual([expect.objectContaining({ id: 'cv-2', code: 'PEER_TIMEOUT' })]);
      expect(s.cluster.workers.find((w) => w.id === 'cv-2')?.answered).toBe(false);
      expect(s.endpoints).toHaveLength(N);
      const silent = s.endpoints.filter((e) => e.state === null);
      // every endpoint the silent worker owns (per etcd), and only those
      const theirs = s.endpoints.filter((e) => e.owner === 'cv-2');
      expect(theirs.length).toBeGreaterThan(0);
      expect(silent.length).toBe(theirs.length);
      expect(silent.every((e) => e.owner === 'cv-2' && e.last === null)).toBe(true);
    } finally {
      process.kill(w2.pid, 'SIGCONT');
    }
  });
});
