/**
 * Dead targets never starve live ones (docs/CLUSTER.md "Falling behind", step 2): a standalone
 * worker checks 2,000 endpoints every second, 400 of which never answer (5 s timeout). With one
 * pending check per endpoint they hold 400 sockets, not 2,000, and the in-flight budget (from the
 * fd limit) leaves room for every healthy check to start on time: no healthy slot is missed and
 * their lag p99 stays under 100 ms.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slotReport } from '../balance/support.js';
import { killAllSpawned, removeOnExit, spawnWorker } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';
import { targetLagP99 } from './support.js';

let target: Target;
beforeAll(async () => {
  target = await startTarget({ hitLogLimit: 200_000 });
});
afterAll(async () => {
  await killAllSpawned();
  await target?.close();
});

describe('hanging targets (worker process)', () => {
  it('400 hanging endpoints of 2,000 do not delay the 1,600 healthy ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'watcher-hang-'));
    removeOnExit(dir);
    const healthy = Array.from({ length: 1600 }, (_, i) => `/count/h${String(i).padStart(4, '0')}`);
    const hanging = Array.from({ length: 400 }, (_, i) => `/hang/${i}`);
    const lines = ['defaults:', '  scheme: http', '  timeout: 5s', '  interval: 1s'];
    for (const p of [...healthy, ...hanging]) lines.push(`127.0.0.1:${target.port}${p}: {}`);
    writeFileSync(join(dir, 'endpoints.yml'), `${lines.join('\n')}\n`);
    const w = await spawnWorker({ id: 'hang', etcd: [], endpointsDir: dir, logLevel: 'info' });
    await w.waitReady(20_000, '/readyz');
    // past the first timeouts (5 s), so every hanging endpoint holds its one socket
    const from = Date.now() + 8000;
    const to = from + 20_000;
    await waitFor(() => Date.now() > to + 1500, {
      timeoutMs: 40_000,
      intervalMs: 500,
      message: 'window over',
    });
    const report = slotReport(target, healthy, from, to);
    expect(report.slots).toBeGreaterThan(1600 * 19);
    expect(report.missed.slice(0, 5), `${report.missed.length} healthy slots missed`).toEqual([]);
    expect(report.duplicated).toEqual([]);
    const p99 = targetLagP99(target, from, to, new Set(healthy));
    expect(p99).not.toBeNull();
    expect(p99!).toBeLessThan(100);
    // the hanging ones are skipped while their one check waits for its timeout, and counted
    const metrics = (await w.http('/metrics')).body;
    const overlap = Number(
      /^watcher_checks_skipped_total\{reason="overlap"\} (\d+)$/m.exec(metrics)?.[1] ?? 0,
    );
    expect(overlap).toBeGreaterThan(400 * 3 * 4);
    await w.stop();
  }, 90_000);
});
