/**
 * The etcd roles of docs/OPERATIONS.md ("etcd roles for workers and operators"), run as written
 * with etcdctl against a real etcd 3.4 (auth enabled by those lines): a worker with the worker role
 * runs the applied endpoints; an operator with the command-only role gives every command
 * (silence, unsilence, pause, resume, run-now, status) and is refused, with a clear error and
 * exit 1, when it writes outside commands/ (`watcher apply`), which changes nothing.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../src/cluster/coordinator.js';
import { watcher } from '../support/cli.js';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { killAllSpawned, REPO_ROOT, spawnWorker, type WorkerProcess } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
const PW = { ROOT_PW: 'root-pw-8c1f', WATCHER_PW: 'worker-pw-55e2', ALICE_PW: 'alice-pw-0b7d' };

/** The etcdctl lines of the documented block, comments dropped. */
function documentedRoleCommands(): string[] {
  const doc = readFileSync(join(REPO_ROOT, 'docs/OPERATIONS.md'), 'utf8');
  const section = doc.slice(doc.indexOf('### etcd roles for workers and operators'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('etcdctl '));
}

describe('etcd roles for workers and operators (docs/OPERATIONS.md, etcd 3.4 with auth)', () => {
  let etcd: EtcdCluster;
  let target: Target;
  let worker: WorkerProcess;
  const dirs: string[] = [];
  let name: string;

  const as = (user: string, password: string) => [
    '--etcd',
    etcd.clientUrls.join(','),
    '--cluster',
    'prod',
    '--etcd-user',
    user,
    '--etcd-password',
    password,
  ];
  const alice = () => as('alice', PW.ALICE_PW);
  const pipeline = () => as('watcher', PW.WATCHER_PW);

  function folder(names: string[]): string {
    const d = mkdtempSync(join(tmpdir(), 'watcher-roles-'));
    dirs.push(d);
    const host = target.url.replace('http://', '');
    writeFileSync(
      join(d, 'e.yml'),
      `${names.map((n) => `${host}/count/${n}:\n  scheme: http\n  interval: 1s`).join('\n')}\n`,
    );
    return d;
  }

  async function status(): Promise<ClusterStatus> {
    const r = await watcher(['status', '--json', ...alice()]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as ClusterStatus;
  }

  beforeAll(async () => {
    etcd = await startEtcdCluster({ members: 1 });
    target = await startTarget();
    const lines = documentedRoleCommands();
    expect(lines.length).toBeGreaterThan(8);
    let authOn = false;
    for (const line of lines) {
      const env = {
        ...process.env,
        ...PW,
        ETCDCTL_API: '3',
        ETCDCTL_ENDPOINTS: etcd.clientUrls.join(','),
        // the doc: "from here on as root"
        ...(authOn ? { ETCDCTL_USER: `root:${PW.ROOT_PW}` } : {}),
      };
      await run('sh', ['-c', line], { env, timeout: 15_000 });
      if (line === 'etcdctl auth enable') authOn = true;
    }
    expect(authOn).toBe(true);
    name = `${target.url.replace('http://', '')}/count/op-a`;
    const applied = await watcher(['apply', folder(['op-a']), ...pipeline()]);
    expect(applied.code, applied.stderr).toBe(0);
    worker = await spawnWorker({
      id: 'role-w1',
      etcd: etcd.clientUrls,
      endpointsDir: join(tmpdir(), `watcher-no-folder-${process.pid}`),
      leaseTtl: 2,
      extraArgs: ['--cluster', 'prod', '--threads', '1', '--config-source', 'etcd', '--etcd-user', 'watcher'],
      env: { ...process.env, WATCHER_ETCD_PASSWORD: PW.WATCHER_PW },
    });
    await worker.waitReady(20_000, '/readyz');
    await waitFor(() => target.hits('/count/op-a') > 0, { timeoutMs: 15_000, message: 'op-a checked' });
  }, 90_000);

  afterAll(async () => {
    await killAllSpawned();
    await target?.close();
    await etcd?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('the documented users exist and etcd refuses a client without credentials', async () => {
    const anon = await watcher(['status', '--etcd', etcd.clientUrls.join(','), '--cluster', 'prod']);
    expect(anon.code).toBe(1);
    const wrong = await watcher(['status', ...as('alice', 'not-her-password')]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/etcd rejected the user name or password/);
    expect(wrong.stderr).not.toContain('not-her-password');
  });

  it('the operator role gives every command', async () => {
    const s = await watcher(['silence', name, '--for', '10m', '--reason', 'deploy 42', ...alice()]);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/silenced .* until /);
    const p = await watcher(['pause', name, '--for', '5m', '--reason', 'db migration', ...alice()]);
    expect(p.code, p.stderr).toBe(0);
    expect((await status()).commands).toEqual([
      expect.objectContaining({ kind: 'silence', endpoint: name, reason: 'deploy 42' }),
      expect.objectContaining({ kind: 'pause', endpoint: name, reason: 'db migration' }),
    ]);
    await waitFor(
      async () => {
        const doc = (await worker.http('/api/v1/status?scope=local')).json<{
          endpoints: Array<{ name: string; silenced: boolean; paused: boolean }>;
        }>();
        const e = doc.endpoints.find((x) => x.name === name);
        return e?.silenced && e.paused;
      },
      { timeoutMs: 10_000, message: 'the worker carries out the silence and the pause' },
    );
    const r = await watcher(['resume', name, ...alice()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`resumed ${name}\n`);
    const before = target.hits('/count/op-a');
    const now = await watcher(['run-now', name, ...alice()]);
    expect(now.code, now.stderr).toBe(0);
    expect(now.stdout).toMatch(/: ok \(status 200, .* by role-w1\)/);
    expect(target.hits('/count/op-a')).toBeGreaterThan(before);
    const u = await watcher(['unsilence', name, ...alice()]);
    expect(u.code, u.stderr).toBe(0);
    expect(u.stdout).toMatch(/removed 1 silence/);
    expect((await status()).commands).toEqual([]);
  }, 60_000);

  it('a write outside commands/ (watcher apply) is refused with a clear error, exit 1, nothing changed', async () => {
    const r = await watcher(['apply', folder(['op-a', 'op-b']), ...alice()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `watcher apply: etcd user alice may not write the desired state under /watcher/prod/ (watcher apply writes jobsets/, owners/, moves/, state/ and self; it stopped at the refused write): use credentials with the workers' role (docs/OPERATIONS.md "etcd roles for workers and operators") [CLUSTER_PERMISSION_DENIED]\n`,
    );
    expect((await status()).jobsets.flatMap((j) => j.names)).toEqual([name]);
    expect(target.hits('/count/op-b')).toBe(0);
  }, 30_000);
});
