/**
 * The results file on a disk that fills up: the path is a symlink to /dev/full (every write fails
 * with ENOSPC), later re-pointed at a real file. The first error is reported once, lines are
 * dropped and counted, and writing resumes by itself after a reopen.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/model/result.js';
import { ResultsFile } from '../../src/output/results-file.js';
import { waitFor } from '../support/wait.js';

const result = (n: number): CheckResult => ({
  endpoint: `e${n}`,
  scheduled_at: n,
  started_at: n,
  duration_ms: 1,
  ok: true,
  status_code: 200,
  error: null,
  values: {},
  worker: 'w',
});

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!existsSync('/dev/full'))('ResultsFile', () => {
  it('reports the first write error, counts dropped lines, and resumes when writes succeed again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'watcher-results-'));
    dirs.push(dir);
    const path = join(dir, 'results.jsonl');
    symlinkSync('/dev/full', path);
    const failing: string[] = [];
    const resumed: number[] = [];
    let dropped = 0;
    const f = new ResultsFile(path, {
      retryMs: 20,
      maxRetryMs: 40,
      onDropped: (n) => {
        dropped += n;
      },
      onFailing: (err) => failing.push(err.code ?? '?'),
      onResumed: (n) => resumed.push(n),
    });
    let n = 0;
    await waitFor(
      () => {
        f.write(result(n++));
        return failing.length > 0 && dropped >= 10;
      },
      { timeoutMs: 5000, intervalMs: 10, message: 'write error reported and lines dropped' },
    );
    expect(failing).toEqual(['ENOSPC']);
    expect(f.error?.code).toBe('ENOSPC');
    unlinkSync(path);
    const real = join(dir, 'real.jsonl');
    symlinkSync(real, path);
    await waitFor(
      () => {
        f.write(result(n++));
        return resumed.length > 0;
      },
      { timeoutMs: 5000, intervalMs: 10, message: 'writes resumed' },
    );
    expect(failing).toEqual(['ENOSPC']);
    expect(f.error).toBeNull();
    expect(resumed[0]).toBeGreaterThanOrEqual(10);
    expect(f.droppedLines).toBe(dropped);
    for (let i = 0; i < 5; i++) f.write(result(n++));
    await f.close();
    const lines = readFileSync(real, 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(6);
    expect(lines.length + dropped).toBe(n);
    expect(JSON.parse(lines.at(-1)!).endpoint).toBe(`e${n - 1}`);
  });
});
