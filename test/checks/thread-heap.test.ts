/**
 * WATCHER_THREAD_SEMI_SPACE_MB (heap-tuning.ts): threads started after tuneHeap get at least that
 * semi-space; without it they start at V8's own size. V8's own start size depends on the Node
 * version and the machine (1 MB on one, 4 MB on another), so it is read first from a thread of a
 * plain `node` process with no flags, and the threads started here are compared with it.
 */
import { execFile } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heapFlags, tuneHeap } from '../../src/heap-tuning.js';

const MB = 1024 * 1024;
// Room for the 8 MB minimum below (V8 caps the semi-space at a third of the young generation).
const YOUNG_MB = 48;
const KNOB_MB = 8;

const reportNewSpace = `const v8 = require('node:v8');
  const s = v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
  require('node:worker_threads').parentPort.postMessage(s.space_size);`;

function newSpaceOfNewThread(): Promise<number> {
  return new Promise((resolve, reject) => {
    const w = new Worker(reportNewSpace, {
      eval: true,
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB },
    });
    w.once('message', (n: number) => {
      resolve(n);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

function newSpaceOfPlainNode(): Promise<number> {
  const main = `const { Worker } = require('node:worker_threads');
    const w = new Worker(${JSON.stringify(reportNewSpace)}, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: ${YOUNG_MB} } });
    w.once('message', (n) => { console.log(n); w.terminate(); });`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', main], { env: { PATH: process.env.PATH ?? '' } }, (err, out) =>
      err ? reject(err) : resolve(Number(out.trim())),
    );
  });
}

describe('check threads young generation', () => {
  let plain = 0;
  beforeAll(async () => {
    plain = await newSpaceOfPlainNode();
    expect(plain).toBeGreaterThan(0);
  });
  afterAll(() => setFlagsFromString('--min-semi-space-size=0'));

  it("default: no minimum set, a new thread starts at V8's own size", async () => {
    tuneHeap({});
    expect(heapFlags().some((f) => f.startsWith('--min-semi-space-size'))).toBe(false);
    expect(await newSpaceOfNewThread()).toBeLessThanOrEqual(plain);
  });

  it(`WATCHER_THREAD_SEMI_SPACE_MB=${KNOB_MB}: a thread started afterwards has at least ${KNOB_MB} MB of new space`, async () => {
    expect(plain).toBeLessThan(KNOB_MB * MB); // else this test could not tell the knob from the default
    const t = tuneHeap({ WATCHER_THREAD_SEMI_SPACE_MB: String(KNOB_MB) });
    expect(t.threadSemiSpaceMb).toBe(KNOB_MB);
    expect(heapFlags()).toContain(`--min-semi-space-size=${KNOB_MB}`);
    expect(await newSpaceOfNewThread()).toBeGreaterThanOrEqual(KNOB_MB * MB);
  });
});
