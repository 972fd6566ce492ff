/**
 * The worker keeps V8's young generation at its smallest (src/heap-tuning.ts): under steady check
 * traffic V8 would otherwise grow it to 32 MB, and Node's start of the check threads would undo the
 * setting (V8 raises the growth factor back to 2 for every new isolate). Read from the worker's own
 * /metrics (prom-client's nodejs_heap_space_size_total_bytes{space="new"}), with the knob off as
 * the control: the same load grows it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllSpawned, spawnWorker } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';

const ENDPOINTS = 1500;
const MB = 1024 * 1024;

function metric(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
}

function sumOf(text: string, name: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`))
    .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('young generation under load', () => {
  let target: Target;
  let dir: string;

  beforeAll(async () => {
    target = await startTarget();
    dir = mkdtempSync(join(tmpdir(), 'watcher-heap-'));
    const host = target.url.replace('http://', '');
    const lines = ['defaults:', '  scheme: http', '  interval: 1s', '  keepalive: true'];
    for (let i = 0; i < ENDPOINTS; i++) lines.push(`${host}/h/${i}:`);
    writeFileSync(join(dir, 'many.yml'), `${lines.join('\n')}\n`);
  });

  afterAll(async () => {
    await killAllSpawned();
    await target?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** new space when the worker is ready, and after three rounds of checks */
  async function newSpaceAfterLoad(env: Record<string, string>): Promise<{ ready: number; loaded: number }> {
    const worker = await spawnWorker({
      id: 'heap',
      etcd: [],
      endpointsDir: dir,
      extraArgs: ['--threads', '2'],
      env,
    });
    try {
      await worker.waitReady(30_000, '/readyz');
      const ready = metric(
        (await worker.http('/metrics')).body,
        'nodejs_heap_space_size_total_bytes',
        '{space="new"}',
      );
      // three full rounds of checks after start-up
      const text = await waitFor(
        async () => {
          const t = (await worker.http('/metrics')).body;
          return sumOf(t, 'watcher_checks_total') >= 3 * ENDPOINTS ? t : null;
        },
        { timeoutMs: 30_000, intervalMs: 250, message: 'three rounds of checks' },
      );
      return { ready, loaded: metric(text, 'nodejs_heap_space_size_total_bytes', '{space="new"}') };
    } finally {
      await worker.stop();
    }
  }

  // 2 MB (two 1 MB semi-spaces) as a rule. V8 may double it while Node boots, before `watcher run`
  // gets to set the flag; what the tuning promises is that checks do not grow it from there. (A
  // fixed 4 MB bound failed once at 8 MB on a host loaded by other work, read only after the load.)
  it('does not grow under load with the default tuning', async () => {
    const { ready, loaded } = await newSpaceAfterLoad({});
    expect(ready).toBeGreaterThan(0);
    expect(loaded).toBeLessThanOrEqual(Math.max(ready, 4 * MB));
  }, 60_000);

  it('grows under the same load with WATCHER_SEMI_SPACE_GROWTH=2 (V8’s default): the control', async () => {
    const { ready, loaded } = await newSpaceAfterLoad({ WATCHER_SEMI_SPACE_GROWTH: '2' });
    expect(loaded).toBeGreaterThan(Math.max(ready, 8 * MB));
  }, 60_000);
});
