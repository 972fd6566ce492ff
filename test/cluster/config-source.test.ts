/**
 * One source of truth, against a real etcd and real workers. Folder mode (the default): `watcher
 * apply` is refused, naming the mode and the admin. `--config-source etcd`: the workers' own folders
 * are ignored, `apply --dry-run` prints the diff and writes nothing, `apply` changes the desired
 * state, and a kill -9 of the admin reverts nothing (the new admin reconciles no folder); a worker
 * with no folder at all takes its self sinks from the applied `self` block and follows a new apply
 * without a restart. Drift in folder mode reaches the self sink with its details.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../src/cluster/coordinator.js';
import { watcher } from '../support/cli.js';
import { HttpDouble } from '../support/doubles/http-double.js';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { killAllSpawned, spawnWorker, type WorkerProcess } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';

interface SelfEventBody {
  watcher: { type: string; kind: string; worker: string; message: string; details?: Record<string, unknown> };
}

describe('config source', () => {
  let etcd: EtcdCluster;
  let target: Target;
  let hook: HttpDouble;
  const dirs: string[] = [];
  let host: string;

  /** A folder of interval-1s endpoints; with `selfPath`, also a self block posting to the hook there. */
  function folder(names: string[], selfPath?: string): string {
    const d = mkdtempSync(join(tmpdir(), 'watcher-src-'));
    dirs.push(d);
    writeFileSync(
      join(d, 'e.yml'),
      `${names.map((n) => `${host}/count/${n}:\n  scheme: http\n  interval: 1s`).join('\n')}\n`,
    );
    if (selfPath) writeFileSync(join(d, 'self.yml'), `self:\n  post_endpoint: ${hook.url}${selfPath}\n`);
    return d;
  }

  /** The self events the hook received at `path`. */
  const selfEvents = (path: string) =>
    hook.requests
      .filter((q) => q.path === path)
      .map((q) => (JSON.parse(q.body.toString()) as SelfEventBody).watcher);

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
    hook = await new HttpDouble(() => ({ status: 200, body: '{}' })).start();
    host = target.url.replace('http://', '');
  });

  afterAll(async () => {
    await killAllSpawned();
    await Promise.all([target?.close(), hook?.close()]);
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
    const d1 = folder(['d-a'], '/drift');
    const d2 = folder(['d-b'], '/drift');
    const w1 = await worker('src-d1', 'drift', d1);
    await w1.waitReady(20_000, '/readyz');
    const w2 = await worker('src-d2', 'drift', d2);
    await w2.waitReady(20_000, '/readyz');
    const admin = (await status('drift')).admin!;
    const other = admin === 'src-d1' ? w2 : w1;
    const rec = await other.waitForLog((x) => String(x.msg).includes("differs from the admin's"), 15_000);
    expect(rec).toMatchObject({ admin });
    const drift = await waitFor(
      () => selfEvents('/drift').find((e) => e.kind === 'config_drift' && e.worker === other.id),
      { timeoutMs: 10_000, message: 'config_drift at the self sink' },
    );
    expect(drift.message).toContain(`differs from the admin's (${admin})`);
    expect(drift.details).toEqual({
      admin,
      checksum: expect.stringMatching(/^[0-9a-f]{32}$/),
      admin_checksum: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(drift.details?.checksum).not.toBe(drift.details?.admin_checksum);
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
    const resolved = await waitFor(
      () => selfEvents('/drift').find((e) => e.kind === 'config_drift_resolved' && e.worker === other.id),
      { timeoutMs: 15_000, message: 'config_drift_resolved at the self sink' },
    );
    expect(resolved.message).toContain("matches the admin's again");
    expect(resolved.details).toMatchObject({ admin, checksum: drift.details?.admin_checksum });
    expect(selfEvents('/drift').filter((e) => e.kind === 'config_drift')).toHaveLength(1);
    await waitFor(async () => ((await status('drift')).configDrift ?? []).length === 0, {
      timeoutMs: 10_000,
      message: 'status shows no drift',
    });
  }, 60_000);

  it('folder mode: a worker routes to sinks only the jobs it owns, not every endpoint of its folder; a new admin reconciles its own folder', async () => {
    // r-a reports to the hook as 127.0.0.1, r-b as localhost: two destinations, told apart by name
    const port = new URL(hook.url).port;
    const onlyA = `${host}/status/503:\n  scheme: http\n  interval: 1s\n  post_endpoint: http://127.0.0.1:${port}/route/a\n`;
    const withB = `${onlyA}${host}/count/r-b:\n  scheme: http\n  interval: 1s\n  post_endpoint: http://localhost:${port}/route/b\n`;
    const d1 = mkdtempSync(join(tmpdir(), 'watcher-src-'));
    const d2 = mkdtempSync(join(tmpdir(), 'watcher-src-'));
    dirs.push(d1, d2);
    writeFileSync(join(d1, 'e.yml'), onlyA);
    writeFileSync(join(d2, 'e.yml'), withB);
    const w1 = await worker('src-r1', 'route', d1);
    await w1.waitReady(20_000, '/readyz');
    await waitFor(async () => (await status('route')).admin === 'src-r1', {
      timeoutMs: 10_000,
      message: 'w1 admin',
    });
    const w2 = await worker('src-r2', 'route', d2);
    await w2.waitReady(20_000, '/readyz');
    type Local = { sinks: { sink: string }[]; config: { files: { endpoints: number }[] } };
    const local = async (w: WorkerProcess) => (await w.http('/api/v1/status?scope=local')).json<Local>();
    const sinksOf = async (w: WorkerProcess) => (await local(w)).sinks.map((x) => x.sink);
    // w2 has read both endpoints of its folder (and compared them with the admin's) ...
    await w2.waitForLog((x) => String(x.msg).includes("differs from the admin's"), 15_000);
    expect((await local(w2)).config.files.map((f) => f.endpoints)).toEqual([2]);
    // ... but r-b is no job of the cluster: no worker routes it (it would hold a destination for it)
    const owner = async () => (await status('route')).jobsets.find((j) => j.names.length > 0)?.owner ?? null;
    await waitFor(
      async () => {
        const o = await owner();
        return o !== null && (await sinksOf(o === 'src-r1' ? w1 : w2)).includes(`webhook:127.0.0.1:${port}`);
      },
      { timeoutMs: 10_000, message: 'the owner of r-a routes it' },
    );
    await waitFor(() => hook.requests.some((q) => q.path === '/route/a'), {
      timeoutMs: 10_000,
      message: 'r-a DOWN delivered',
    });
    for (const w of [w1, w2]) expect(await sinksOf(w)).not.toContain(`webhook:localhost:${port}`);
    // the admin goes: w2 becomes admin with its folder's desired state, and then owns and routes r-b
    w1.kill('SIGKILL');
    await waitFor(async () => names(await status('route')).includes(`${host}/count/r-b`), {
      timeoutMs: 20_000,
      message: "the new admin reconciled its folder's r-b",
    });
    await waitFor(async () => (await sinksOf(w2)).includes(`webhook:localhost:${port}`), {
      timeoutMs: 15_000,
      message: 'w2 routes r-b once it owns it',
    });
  }, 90_000);

  it('etcd mode: a worker with no folder sends its self events where the applied self block says; a new apply moves them', async () => {
    const desired = folder(['s-a'], '/self-1');
    const first = await watcher(['apply', desired, ...flags('self')]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/applied 1 endpoints: 1 added, .*; self block added/);
    const none = join(tmpdir(), `watcher-no-such-folder-${process.pid}`);
    const w = await worker('src-s1', 'self', none, ['--config-source', 'etcd']);
    await w.waitReady(20_000, '/readyz');
    const started = await waitFor(
      () => selfEvents('/self-1').find((e) => e.kind === 'worker_started' && e.worker === 'src-s1'),
      { timeoutMs: 10_000, message: 'worker_started at the applied self sink' },
    );
    expect(started.message).toBe('worker src-s1 started');
    await waitFor(() => target.hits('/count/s-a') > 0, { timeoutMs: 10_000, message: 's-a checked' });
    expect(w.logs().some((x) => x.code === 'CFG_READ')).toBe(false); // the folder was never read
    // the operator edits the self block of the same folder
    writeFileSync(join(desired, 'self.yml'), `self:\n  post_endpoint: ${hook.url}/self-2\n`);
    const dry = await watcher(['apply', '--dry-run', desired, ...flags('self')]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toBe(
      "~ self (sinks of the workers' own events)\ndry run: 0 to add, 0 to change, 0 to remove, self block to change; nothing written\n",
    );
    const loaded = () => w.logs().filter((x) => x.msg === 'config snapshot loaded').length;
    expect(loaded()).toBe(1);
    const r = await watcher(['apply', desired, ...flags('self')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/0 added, 0 changed, 0 removed .*; self block changed/);
    await waitFor(() => loaded() === 2, { timeoutMs: 10_000, message: 'the worker reloads the self block' });
    const before = selfEvents('/self-1').length;
    expect((await w.stop()).code).toBe(0); // same process: the change took effect without a restart
    const stopped = await waitFor(() => selfEvents('/self-2').find((e) => e.kind === 'worker_stopped'), {
      timeoutMs: 5000,
      message: 'worker_stopped at the new self sink',
    });
    expect(stopped).toMatchObject({ worker: 'src-s1' });
    expect(selfEvents('/self-1')).toHaveLength(before);
    expect(selfEvents('/self-1').some((e) => e.kind === 'worker_stopped')).toBe(false);
    const again = await watcher(['apply', desired, ...flags('self')]);
    expect(again.stdout).toMatch(/; self block unchanged/);
  }, 60_000);

  it('etcd mode: the environment values in the jobs a worker owns are secrets: never in its logs or status', async () => {
    const SECRET = 'expected-secret-value-42';
    const d = mkdtempSync(join(tmpdir(), 'watcher-src-'));
    dirs.push(d);
    // the target answers {"status":"ok"}: the test fails, and its reason names the expected value
    writeFileSync(
      join(d, 'e.yml'),
      `${host}/ok:
  scheme: http
  interval: 1s
  success_test: { key: status, value: "\${EXPECTED_STATUS}" }
`,
    );
    process.env.EXPECTED_STATUS = SECRET; // for `watcher apply` (it validates with its env)
    try {
      const r = await watcher(['apply', d, ...flags('secrets')]);
      expect(r.code, r.stderr).toBe(0);
    } finally {
      delete process.env.EXPECTED_STATUS;
    }
    const none = join(tmpdir(), `watcher-no-such-folder-${process.pid}`);
    const w = await spawnWorker({
      id: 'src-x1',
      etcd: etcd.clientUrls,
      endpointsDir: none,
      leaseTtl: 2,
      env: { EXPECTED_STATUS: SECRET },
      extraArgs: ['--cluster', 'secrets', '--threads', '1', '--config-source', 'etcd'],
    });
    await w.waitReady(20_000, '/readyz');
    const down = await waitFor(() => w.logs().find((x) => x.msg === 'endpoint DOWN'), {
      timeoutMs: 15_000,
      message: 'the endpoint goes DOWN on its test',
    });
    expect(String(down.reason)).toBe('test: status == "ok", expected "[REDACTED]"');
    const statusDoc = (await w.http('/api/v1/status?scope=local')).body;
    expect(statusDoc).toContain('[REDACTED]');
    for (const text of [statusDoc, w.tail(), JSON.stringify(w.logs())]) expect(text).not.toContain(SECRET);
  }, 60_000);
});
