/**
 * WATCHER_THREAD_SEMI_SPACE_MB (heap-tuning.ts): threads started after tuneHeap get at least that
 * semi-space; without it they start at V8's own size. Read inside a fresh worker thread.
 */
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { heapFlags, tuneHeap } from '../../src/heap-tuning.js';

const MB = 1024 * 1024;

function newSpaceOfNewThread(): Promise<number> {
  const code = `const v8 = require('node:v8');
    const s = v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
    require('node:worker_threads').parentPort.postMessage(s.space_size);`;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 16 } });
    w.once('message', (n: number) => {
      resolve(n);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

describe('check threads young generation', () => {
  afterAll(() => setFlagsFromString('--min-semi-space-size=0'));

  it('default: no minimum set, a new thread starts small', async () => {
    tuneHeap({});
    expect(heapFlags().some((f) => f.startsWith('--min-semi-space-size'))).toBe(false);
    expect(await newSpaceOfNewThread()).toBeLessThan(4 * MB);
  });

  it('WATCHER_THREAD_SEMI_SPACE_MB=4: a thread started afterwards has at least 4 MB of new space', async () => {
    const t = tuneHeap({ WATCHER_THREAD_SEMI_SPACE_MB: '4' });
    expect(t.threadSemiSpaceMb).toBe(4);
    expect(heapFlags()).toContain('--min-semi-space-size=4');
    expect(await newSpaceOfNewThread()).toBeGreaterThanOrEqual(4 * MB);
  });
});
