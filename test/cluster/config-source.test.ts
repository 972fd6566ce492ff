/**
 * One source of truth, against a real etcd and real workers. Folder mode (the default): `watcher
 * apply` is refused, naming the mode and the admin. `--config-source etcd`: the workers' own folders
 * are ignored, `apply --dry-run` prints the diff and writes nothing, `apply` changes the desired
 * state, and a kill -9 of the admin reverts nothing (the new admin reconciles no folder).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../src/cluster/coordinator.js';
import { watcher } from '../support/cli.js';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { killAllSpawned, spawnWorker, type WorkerProcess } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';

describe('config source', () => {
  let etcd: EtcdCluster;
  let target: Target;
  const dirs: string[] = [];
  let host: string;

  function folder(names: string[]): string {
    const d = mkdtempSync(join(tmpdir(), 'watcher-src-'));
    dirs.push(d);
    writeFileSync(
      join(d, 'e.yml'),
      `${names.map((n) => `${host}/count/${n}:\n  scheme: http\n  interval: 1s`).join('\n')}\n`,
    );
    return d;
  }

  const flags = (cluster: string) => ['--etcd', etcd.clientUrls.join(','), '--cluster', cluster];

  async function status(cluster: string): Promise<ClusterStatus> {
    const r = await watcher(['status', '--json', ...flags(cluster)]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as ClusterStatus;
  }

  const names = (s: ClusterStatus) => s.jobsets.flatMap((j) => j.names).sort();

  function worker(id: string, cluster: string, dir: string, extra: string[] = []): Promise<WorkerProcess> {
    return spawnWorker({
      id,
      etcd: etcd.clientUrls,
      endpointsDir: dir,
      leaseTtl: 2,
      extraArgs: ['--cluster', cluster, '--threads', '1', ...extra],
    });
  }

  beforeAll(async () => {
    etcd = await startEtcdCluster({ members: 1 });
    target = await startTarget();
    host = target.url.replace('http://', '');
  });

  afterAll(async () => {
    await killAllSpawned();
    await target?.close();
    await etcd?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('folder mode: apply is refused with the mode and the admin named; nothing changes', async () => {
    const w = await worker('src-f1', 'fold', folder(['f-a']));
    await w.waitReady(20_000, '/readyz');
    await waitFor(async () => names(await status('fold')).length === 1, {
      timeoutMs: 10_000,
      message: 'folder reconciled',
    });
    const r = await watcher(['apply', folder(['f-b']), ...flags('fold')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /cluster fold takes its endpoints from the admin's folder \(--config-source folder, admin src-f1\): an apply would be undone/,
    );
    expect(names(await status('fold'))).toEqual([`${host}/count/f-a`]);
  }, 60_000);

  it('etcd mode: folders ignored, dry run writes nothing, apply holds across a kill -9 of the admin', async () => {
    // each worker has a different folder of its own: in etcd mode neither may become the desired state
    const w1 = await worker('src-e1', 'etcd', folder(['own-1']), ['--config-source', 'etcd']);
    await w1.waitReady(20_000, '/readyz');
    const w2 = await worker('src-e2', 'etcd', folder(['own-2']), ['--config-source', 'etcd']);
    await w2.waitReady(20_000, '/readyz');
    const desired = folder(['e-a', 'e-b', 'e-c']);
    const dry = await watcher(['apply', '--dry-run', desired, ...flags('etcd')]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`+ ${host}/count/e-a`);
    expect(dry.stdout).toMatch(/dry run: 3 to add, 0 to change, 0 to remove; nothing written/);
    expect(names(await status('etcd'))).toEqual([]);
    const r = await watcher(['apply', desired, ...flags('etcd')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/applied 3 endpoints: 3 added/);
    const want = ['e-a', 'e-b', 'e-c'].map((n) => `${host}/count/${n}`).sort();
    await waitFor(() => ['e-a', 'e-b', 'e-c'].every((n) => target.hits(`/count/${n}`) > 0), {
      timeoutMs: 10_000,
      message: 'applied endpoints checked',
    });
    const admin = (await status('etcd')).admin!;
    const survivor = admin === 'src-e1' ? w2 : w1;
    (admin === 'src-e1' ? w1 : w2).kill('SIGKILL');
    await waitFor(async () => (await status('etcd')).admin === survivor.id, {
      timeoutMs: 15_000,
      message: 'the survivor becomes admin',
    });
    // the new admin has had its election and every reason to reconcile: give it three checks' time
    const hitsAt = target.hits(`/count/e-a`);
    await waitFor(() => target.hits(`/count/e-a`) >= hitsAt + 3, {
      timeoutMs: 15_000,
      message: 'three more checks',
    });
    expect(names(await status('etcd'))).toEqual(want);
    expect(target.hits('/count/own-1') + target.hits('/count/own-2')).toBe(0);
    expect(survivor.logs().some((x) => x.msg === 'admin reconciled desired jobs into etcd')).toBe(false);
  }, 90_000);

  it('folder mode: a worker whose folder differs from the admin’s raises config_drift; status shows it', async () => {
    const d1 = folder(['d-a']);
    const d2 = folder(['d-b']);
    const w1 = await worker('src-d1', 'drift', d1);
    await w1.waitReady(20_000, '/readyz');
    const w2 = await worker('src-d2', 'drift', d2);
    await w2.waitReady(20_000, '/readyz');
    const admin = (await status('drift')).admin!;
    const other = admin === 'src-d1' ? w2 : w1;
    const rec = await other.waitForLog((x) => String(x.msg).includes("differs from the admin's"), 15_000);
    expect(rec).toMatchObject({ admin });
    const text = await waitFor(
      async () => {
        const r = await watcher(['status', ...flags('drift')]);
        return r.stdout.includes('config drift:') ? r.stdout : null;
      },
      { timeoutMs: 10_000, message: 'status shows the drift' },
    );
    expect(text).toContain(`config drift: ${other.id} (endpoint folder differs from the admin's ${admin}`);
    // the operator fixes the mount: same definitions again
    writeFileSync(join(other === w1 ? d1 : d2, 'e.yml'), readFileSync(join(other === w1 ? d2 : d1, 'e.yml')));
    await other.waitForLog((x) => String(x.msg).includes("matches the admin's again"), 15_000);
    await waitFor(async () => ((await status('drift')).configDrift ?? []).length === 0, {
      timeoutMs: 10_000,
      message: 'status shows no drift',
    });
  }, 60_000);
});
