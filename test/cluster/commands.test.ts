/**
 * Operator commands against a real etcd and real worker processes: bad commands are refused with
 * a clear message and exit code; a silence set before a kill -9 of the endpoint's owner still holds
 * on the new owner (its DOWN change reaches no sink); run-now runs exactly one extra check and
 * prints its result, also when the owner is killed just before (the new owner runs it, once);
 * pause stops the checks cluster-wide and resume restarts them; status lists what is in force.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../src/cluster/coordinator.js';
import { watcher } from '../support/cli.js';
import { HttpDouble } from '../support/doubles/http-double.js';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { type FlipTarget, startFlipTarget } from '../support/flip-target.js';
import { killAllSpawned, spawnWorker, type WorkerProcess } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';

describe('operator commands (silence, run-now, pause) through etcd', () => {
  let etcd: EtcdCluster;
  let target: Target;
  let flip: FlipTarget;
  let hook: HttpDouble;
  let dir: string;
  const workers = new Map<string, WorkerProcess>();
  let silenced: string;
  let runName: string;
  let pausedName: string;
  const flags = () => ['--etcd', etcd.clientUrls.join(','), '--cluster', 'cmd'];

  async function startWorker(id: string): Promise<WorkerProcess> {
    const w = await spawnWorker({
      id,
      etcd: etcd.clientUrls,
      endpointsDir: dir, // folder mode: every worker mounts the same folder (sinks route from it)
      leaseTtl: 2,
      extraArgs: ['--cluster', 'cmd', '--threads', '1'],
    });
    await w.waitReady(20_000, '/readyz');
    workers.set(id, w);
    return w;
  }

  async function status(): Promise<ClusterStatus> {
    const r = await watcher(['status', '--json', ...flags()]);
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout) as ClusterStatus;
  }

  async function ownerOf(name: string): Promise<string> {
    return waitFor(
      async () => {
        const s = await status();
        const owner = s.jobsets.find((j) => j.names.includes(name))?.owner;
        return owner && workers.has(owner) && !workers.get(owner)!.exitInfo() ? owner : null;
      },
      { timeoutMs: 20_000, message: `a live owner of ${name}` },
    );
  }

  beforeAll(async () => {
    etcd = await startEtcdCluster({ members: 1 });
    target = await startTarget();
    flip = await startFlipTarget();
    hook = await new HttpDouble(() => ({ status: 200, body: '{}' })).start();
    dir = mkdtempSync(join(tmpdir(), 'watcher-cmd-'));
    const host = target.url.replace('http://', '');
    silenced = `${flip.host}/silenced`;
    runName = `${host}/count/run-now`;
    pausedName = `${host}/count/paused`;
    writeFileSync(
      join(dir, 'jobs.yml'),
      [
        'defaults:',
        '  scheme: http',
        `  post_endpoint: ${hook.url}/alerts`,
        '  post_json_info: { title: "{endpoint} is {state}" }',
        `${silenced}:`,
        '  interval: 1s',
        '  tags: [team:web]',
        `${runName}:`,
        '  cron_schedule: "0 0 1 1 *"', // once a year: every hit is a run-now
        `${pausedName}:`,
        '  interval: 1s',
        '',
      ].join('\n'),
    );
    await startWorker('cmd-w1');
    await startWorker('cmd-w2');
    await waitFor(() => target.hits(`/count/paused`) > 0, { timeoutMs: 15_000, message: 'checks running' });
  }, 90_000);

  afterAll(async () => {
    await killAllSpawned();
    await Promise.all([target?.close(), flip?.close(), hook?.close()]);
    await etcd?.close();
    for (const d of [dir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('refuses bad commands with a clear message and exit code', async () => {
    const unknown = await watcher([
      'silence',
      'nope.example.com/x',
      '--for',
      '1h',
      '--reason',
      'deploy',
      ...flags(),
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(
      /unknown endpoint "nope\.example\.com\/x": it is not in the cluster's desired state/,
    );
    const negative = await watcher(['silence', silenced, '--for=-1h', '--reason', 'deploy', ...flags()]);
    expect(negative.code).toBe(2);
    expect(negative.stderr).toMatch(/--for must be a positive duration like 30m or 1h; got "-1h"/);
    const noReason = await watcher(['silence', silenced, '--for', '1h', ...flags()]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toMatch(/--reason TEXT is required/);
    const noTag = await watcher([
      'silence',
      '--tag',
      'team:nobody',
      '--for',
      '1h',
      '--reason',
      'x',
      ...flags(),
    ]);
    expect(noTag.code).toBe(1);
    expect(noTag.stderr).toMatch(/no endpoint of cluster cmd has the tag "team:nobody"/);
    const runUnknown = await watcher(['run-now', 'nope.example.com/x', ...flags()]);
    expect(runUnknown.code).toBe(1);
    expect((await status()).commands).toEqual([]);
  });

  it('a silence set before a kill -9 of the owner still holds on the new owner', async () => {
    const r = await watcher([
      'silence',
      '--tag',
      'team:web',
      '--for',
      '1h',
      '--reason',
      'deploy 42',
      '--author',
      'ops',
      ...flags(),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/silenced tag team:web until .* by ops: deploy 42/);
    const s = await status();
    expect(s.commands).toEqual([
      expect.objectContaining({ kind: 'silence', tag: 'team:web', author: 'ops', reason: 'deploy 42' }),
    ]);
    expect((await watcher(['status', ...flags()])).stdout).toMatch(
      /silence\s+tag team:web\s+\S+\s+ops\s+deploy 42/,
    );
    const api = (await workers.get('cmd-w1')!.http('/api/v1/status')).json<{
      cluster: { commands: Array<{ kind: string; tag: string; author: string }> };
    }>();
    expect(api.cluster.commands).toEqual([
      expect.objectContaining({ kind: 'silence', tag: 'team:web', author: 'ops' }),
    ]);
    const first = await ownerOf(silenced);
    workers.get(first)!.kill('SIGKILL');
    await startWorker('cmd-w3'); // keep two live workers
    const second = await waitFor(
      async () => {
        const o = await ownerOf(silenced);
        return o !== first ? o : null;
      },
      { timeoutMs: 20_000, message: 'a new owner after kill -9' },
    );
    const live = () => [...workers.values()].filter((x) => !x.exitInfo());
    await waitFor(
      async () => {
        const doc = (await workers.get(second)!.http('/api/v1/status')).json<{
          endpoints: Array<{ name: string; silenced: boolean }>;
        }>();
        return doc.endpoints.find((e) => e.name === silenced)?.silenced;
      },
      { timeoutMs: 10_000, message: 'the cluster status shows the endpoint silenced on its new owner' },
    );
    flip.set('/silenced', 503);
    const down = await waitFor(
      () =>
        live()
          .flatMap((x) => x.logs())
          .find((rec) => rec.endpoint === silenced && rec.to === 'DOWN'),
      { timeoutMs: 15_000, message: 'the DOWN change on a surviving worker' },
    );
    expect(down).toMatchObject({ silenced: true });
    expect(down.worker).not.toBe(first);
    const un = await watcher(['unsilence', '--tag', 'team:web', ...flags()]);
    expect(un.stdout).toMatch(/removed 1 silence/);
    expect((await status()).commands).toEqual([]);
    flip.set('/silenced', 200);
    // after the silence the recovery is an alert again, which proves the route works; the DOWN
    // change before it never went out
    await waitFor(() => hook.requests.find((q) => q.body.toString().includes(`${silenced} is UP`)), {
      timeoutMs: 15_000,
      message: 'the UP change is sent once the silence is gone',
    });
    expect(hook.requests.filter((q) => q.body.toString().includes(`${silenced} is DOWN`))).toEqual([]);
  }, 90_000);

  it('run-now: exactly one extra check, its result printed', async () => {
    const before = target.hits('/count/run-now');
    const r = await watcher(['run-now', runName, ...flags()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `${runName.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ok \\(status 200, [0-9.]+ ms, by cmd-w\\d\\)`,
      ),
    );
    expect(target.hits('/count/run-now')).toBe(before + 1);
  }, 30_000);

  it('run-now across a handover: the owner is killed right before; the new owner runs it once', async () => {
    const before = target.hits('/count/run-now');
    const owner = await ownerOf(runName);
    workers.get(owner)!.kill('SIGKILL');
    const r = await watcher(['run-now', runName, '--timeout', '20s', '--json', ...flags()]);
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as { worker: string; result: { ok: boolean; run_now: boolean } };
    expect(res.worker).not.toBe(owner);
    expect(res.result).toMatchObject({ ok: true, run_now: true });
    await startWorker('cmd-w4');
    // nobody else runs it later either: the request is gone once answered
    await waitFor(async () => ((await status()).commands ?? []).every((c) => c.kind !== 'run-now'), {
      timeoutMs: 5000,
      message: 'run-now request removed',
    });
    expect(target.hits('/count/run-now')).toBe(before + 1);
  }, 60_000);

  it('pause stops the checks cluster-wide until resume', async () => {
    const live = () => [...workers.values()].filter((x) => !x.exitInfo());
    const p = await watcher(['pause', pausedName, '--reason', 'vendor outage', ...flags()]);
    expect(p.code, p.stderr).toBe(0);
    const owner = workers.get(await ownerOf(pausedName))!;
    await waitFor(
      async () => {
        const doc = (await owner.http('/api/v1/status?scope=local')).json<{
          endpoints: Array<{ name: string; paused: boolean }>;
        }>();
        return doc.endpoints.find((e) => e.name === pausedName)?.paused;
      },
      { timeoutMs: 5000, message: 'owner shows the endpoint paused' },
    );
    const frozen = target.hits('/count/paused');
    // three intervals of the other endpoint (1 s) pass without a check of the paused one
    const flips = () => live().reduce((n, x) => n + x.logs().length, 0);
    const t0 = Date.now();
    await waitFor(() => Date.now() - t0 >= 3000 && flips() > 0, {
      timeoutMs: 10_000,
      message: '3 s of other checks',
    });
    expect(target.hits('/count/paused')).toBeLessThanOrEqual(frozen + 1); // one may have been in flight
    const r = await watcher(['resume', pausedName, ...flags()]);
    expect(r.stdout).toMatch(/resumed/);
    await waitFor(() => target.hits('/count/paused') > frozen + 1, {
      timeoutMs: 10_000,
      message: 'checks again after resume',
    });
  }, 60_000);
});
