/**
 * A standalone worker at 3× its capacity (test hooks: ~333 checks/s on its one thread, 1,000
 * endpoints every second): pending checks stay bounded by the endpoints, about two thirds of the
 * slots are skipped and counted, the lag of what runs stays under one interval plus a check, one lag_high reaches the
 * `self` webhook; after relief the lag is back under a second and one lag_ok follows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllSpawned, spawnWorker } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';
import { overloadFolder, selfHook, slowEnv, targetLagP99 } from './support.js';

let target: Target;
let hook: Awaited<ReturnType<typeof selfHook>>;
beforeAll(async () => {
  [target, hook] = await Promise.all([startTarget({ hitLogLimit: 300_000 }), selfHook()]);
});
afterAll(async () => {
  await killAllSpawned();
  await Promise.all([target?.close(), hook?.close()]);
});

describe('standalone overload (worker process)', () => {
  it('3x overload: bounded pending work and lag, skipped slots counted, one lag_high then one lag_ok', async () => {
    const folder = overloadFolder(target, 4, 250, hook.url);
    const w = await spawnWorker({
      id: 'alone',
      etcd: [],
      endpointsDir: folder.dir,
      logLevel: 'info',
      extraArgs: ['--threads', '1'],
      env: slowEnv(10, 30),
    });
    await w.waitReady(20_000, '/readyz');
    const started = Date.now();
    await waitFor(() => hook.events('lag_high').length === 1, {
      timeoutMs: 30_000,
      message: 'lag_high sent',
    });
    const metric = async (re: RegExp) => Number(re.exec((await w.http('/metrics')).body)?.[1] ?? Number.NaN);
    // a full minute of coverage at 3×: about a third of the due slots run
    await waitFor(
      async () =>
        Date.now() - started > 62_000 && (await metric(/^watcher_schedule_coverage_ratio ([\d.]+)$/m)) < 0.45,
      {
        timeoutMs: 80_000,
        intervalMs: 1000,
        message: 'coverage about 1/3',
      },
    );
    expect(await metric(/^watcher_checks_pending (\d+)$/m)).toBeLessThanOrEqual(1000);
    expect(await metric(/^watcher_checks_skipped_total\{reason="overlap"\} (\d+)$/m)).toBeGreaterThan(20_000);
    // the slot that runs is less than one interval (1 s) plus a check late: a check that waited in
    // its thread serves the latest slot due when it starts (checks/serve-slot.ts)
    const now = Date.now();
    expect(targetLagP99(target, now - 20_000, now)).toBeLessThan(1200);
    // relief: a quarter of the endpoints stay (~250 checks/s of ~333)
    for (const f of ['part1.yml', 'part2.yml', 'part3.yml']) folder.remove(f);
    const relief = Date.now();
    const kept = new Set(folder.files.get('part0.yml'));
    await waitFor(
      () => {
        const t = Date.now();
        const p99 = targetLagP99(target, t - 2000, t, kept);
        return t - relief > 3000 && p99 !== null && p99 < 1000;
      },
      { timeoutMs: 15_000, intervalMs: 500, message: 'lag p99 < 1 s within 15 s of relief' },
    );
    await waitFor(() => hook.events('lag_ok').length === 1, { timeoutMs: 60_000, message: 'lag_ok sent' });
    expect(hook.events('lag_high')).toHaveLength(1);
    expect(hook.events('lag_ok')[0]?.worker).toBe('alone');
    await w.stop();
  }, 200_000);
});
