/**
 * etcd out of space (its backend quota reached, alarm NOSPACE), with a real etcd and a real
 * worker: checks go on; the first refused write — here an alert-state save, which any owner makes,
 * admin or not — raises one `etcd_write_refused` (with the remedy) for the episode, and every
 * refused write (the admin's config change too) counts in `watcher_etcd_write_errors_total`;
 * after compact + defrag + `alarm disarm` the pending config is applied and one `etcd_write_ok`
 * follows.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfHook } from '../overload/support.js';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { type FlipTarget, startFlipTarget } from '../support/flip-target.js';
import { killAllSpawned, removeOnExit, spawnWorker } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
let etcd: EtcdCluster;
let target: Target;
let flip: FlipTarget;
let hook: Awaited<ReturnType<typeof selfHook>>;

beforeAll(async () => {
  [etcd, target, hook, flip] = await Promise.all([
    startEtcdCluster({ members: 1, extraArgs: ['--quota-backend-bytes', String(4 * 1024 * 1024)] }),
    startTarget(),
    selfHook(),
    startFlipTarget(),
  ]);
});
afterAll(async () => {
  await killAllSpawned();
  await Promise.all([etcd?.close(), target?.close(), hook?.close(), flip?.close()]);
});

async function etcdctl(...args: string[]): Promise<string> {
  const { stdout } = await run('etcdctl', [`--endpoints=${etcd.clientUrls.join(',')}`, ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

describe('etcd out of space (real etcd, worker process)', () => {
  it('reports the refused writes with the remedy, keeps checking, applies the pending config after recovery', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'watcher-nospace-'));
    removeOnExit(dir);
    const file = (name: string, paths: string[]) =>
      writeFileSync(
        join(dir, name),
        `defaults:\n  scheme: http\n  interval: 1s\n${paths.map((p) => `127.0.0.1:${target.port}${p}: {}`).join('\n')}\n`,
      );
    writeFileSync(join(dir, 'self.yml'), `self:\n  post_endpoint: ${hook.url}\n`);
    file('a.yml', ['/count/ns-a']);
    // an endpoint that will go DOWN while etcd is full: its owner must save the new alert state
    writeFileSync(join(dir, 'flip.yml'), `${flip.host}/flaky:\n  scheme: http\n  interval: 1s\n`);
    const w = await spawnWorker({
      id: 'ns',
      etcd: etcd.clientUrls,
      endpointsDir: dir,
      leaseTtl: 3,
      extraArgs: ['--cluster', 'nospace', '--threads', '1'],
    });
    await w.waitReady(20_000, '/readyz');
    const owned = async () =>
      Number(/^watcher_jobs_owned (\d+)$/m.exec((await w.http('/metrics')).body)?.[1] ?? 0);
    await waitFor(async () => (await owned()) === 2, { timeoutMs: 10_000, message: 'two jobs owned' });

    // fill etcd's backend until the quota alarm refuses writes
    const blob = 'x'.repeat(100 * 1024); // an argument longer than 128 KiB cannot be exec'd
    let full = false;
    for (let i = 0; i < 400 && !full; i++) {
      try {
        await etcdctl('put', `junk/${i}`, blob);
      } catch (err) {
        full = /database space exceeded/.test(String((err as { stderr?: string }).stderr ?? err));
        if (!full) throw err;
      }
    }
    expect(full).toBe(true);
    expect(await etcdctl('alarm', 'list')).toContain('NOSPACE');

    // the endpoint goes DOWN: the owner's alert-state save is refused (not an admin write)
    flip.set('/flaky', 503);
    await waitFor(() => hook.events('etcd_write_refused').length === 1, {
      timeoutMs: 15_000,
      message: 'etcd_write_refused sent',
    });
    const refused = hook.events('etcd_write_refused')[0]!;
    expect(refused.message).toMatch(/nospace/i);
    expect(refused.message).toMatch(/disarm/);
    // refused first: the alert-state save, or the worker record if it was republished before it
    // (both are writes every worker makes; the admin's reconcile comes only with the change below)
    const workerWrites = ['alert states', 'worker record'];
    expect(workerWrites).toContain(refused.details?.what);
    const errors = async () =>
      Number(
        /^watcher_etcd_write_errors_total\{cause="nospace"\} (\d+)$/m.exec(
          (await w.http('/metrics')).body,
        )?.[1] ?? 0,
      );
    expect(await errors()).toBeGreaterThan(0);
    // a config change the admin cannot write: counted too, but the same episode (no second event)
    const counted = await errors();
    file('b.yml', ['/count/ns-b']);
    await waitFor(async () => (await errors()) > counted + 1, {
      timeoutMs: 15_000,
      message: 'the refused reconcile counted',
    });
    expect(hook.events('etcd_write_refused')).toHaveLength(1);
    const status = (await w.http('/api/v1/status?scope=local')).json<{
      cluster: { etcd_writes?: { refused: boolean; what: string } };
    }>();
    expect(status.cluster.etcd_writes).toMatchObject({ refused: true, what: refused.details?.what });
    // checks go on meanwhile
    const before = target.hits('/count/ns-a');
    await waitFor(() => target.hits('/count/ns-a') >= before + 2, {
      timeoutMs: 5000,
      message: 'still checking',
    });
    expect(await owned()).toBe(2);

    // the remedy: free space, compact, defragment, disarm
    await etcdctl('del', '--prefix', 'junk/');
    const rev = (JSON.parse(await etcdctl('get', 'junk', '-w', 'json')) as { header: { revision: number } })
      .header.revision;
    await etcdctl('compact', String(rev));
    await etcdctl('defrag');
    await etcdctl('alarm', 'disarm');
    await waitFor(() => hook.events('etcd_write_ok').length === 1, {
      timeoutMs: 20_000,
      message: 'etcd_write_ok sent',
    });
    await waitFor(async () => (await owned()) === 3, {
      timeoutMs: 10_000,
      message: 'the pending config is applied',
    });
    expect(hook.events('etcd_write_ok')).toHaveLength(1);
    await waitFor(() => target.hits('/count/ns-b') > 0, {
      timeoutMs: 5000,
      message: 'the new endpoint is checked',
    });
    await w.stop();
  }, 90_000);
});
