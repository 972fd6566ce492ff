/** Concurrent checks sized from the file-descriptor limit. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_PER_THREAD, planInflight, readFdLimit } from '../../src/checks/fd-budget.js';

describe('fd budget', () => {
  it('reads RLIMIT_NOFILE from /proc/self/limits', () => {
    const dir = mkdtempSync(join(tmpdir(), 'watcher-fd-'));
    const f = join(dir, 'limits');
    writeFileSync(
      f,
      'Limit                     Soft Limit           Hard Limit           Units\nMax open files            200                  4096                 files\n',
    );
    expect(readFdLimit(f)).toEqual({ soft: 200, hard: 4096 });
    expect(readFdLimit(join(dir, 'absent'))).toBeNull();
    expect(readFdLimit()?.soft).toBeGreaterThan(0); // this process, on Linux
  });

  it('keeps threads x per-thread concurrency within the limit minus a reserve', () => {
    const low = planInflight({ soft: 200, hard: 4096 }, 2);
    expect(low.perThread * 2).toBeLessThanOrEqual(200 - 64);
    expect(low.perThread).toBeGreaterThanOrEqual(8);
    const high = planInflight({ soft: 1_048_576, hard: null }, 2);
    expect(high.perThread).toBe(MAX_PER_THREAD);
    expect(planInflight({ soft: 20_000, hard: 20_000 }, 2).perThread * 2).toBeLessThan(20_000);
    expect(planInflight(null, 4).perThread).toBe(MAX_PER_THREAD);
  });
});
