/**
 * CheckPool with real piscina threads (compiled thread entry from dist/: `npm run build` first)
 * against the local fault target.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { CheckPool, type CheckPoolOptions } from '../../src/checks/pool.js';
import type { CheckSpec } from '../../src/model/endpoint.js';
import type { CheckResult } from '../../src/model/result.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';
import { spec } from './spec.js';

let target: Target;
const pools: CheckPool[] = [];

beforeAll(async () => {
  target = await startTarget();
});
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close(0)));
});
afterAll(async () => {
  await target?.close();
});

function newPool(over: Partial<CheckPoolOptions> = {}): CheckPool {
  const pool = new CheckPool({ threads: 2, worker: 'w-pool', ...over });
  pools.push(pool);
  return pool;
}

const item = (s: CheckSpec) => ({ spec: s, scheduledAt: Date.now() });
const jsonOk = { successTests: [{ kind: 'json' as const, key: 'status', op: '==' as const, value: 'ok' }] };

/** Threads load undici on first use; warm them so timing assertions measure the pool, not startup. */
async function warm(pool: CheckPool): Promise<void> {
  await pool.runAll(Array.from({ length: 16 }, () => item(spec(`${target.url}/ok`))));
}

describe('CheckPool', () => {
  test('a mixed batch: one result per check, in order, with the right reasons; streamed too', async () => {
    const pool = newPool();
    const paths = ['/ok', '/degraded', '/status/503', '/reset', '/badjson', '/loop', '/big', '/redirect'];
    const batch = paths.map((p, i) => item(spec(`${target.url}${p}`, { id: `ep${i}`, ...jsonOk })));
    const streamed: CheckResult[] = [];
    const results = await pool.runAll(batch, (r) => streamed.push(r));
    expect(results.map((r) => r.endpoint)).toEqual(paths.map((_, i) => `ep${i}`));
    expect(results.map((r) => r.error)).toEqual([
      null,
      'test: status == "degraded", expected "ok"',
      'status 503',
      'connection reset',
      'json: unexpected token',
      'too many redirects',
      'body too large',
      null,
    ]);
    expect(streamed.map((r) => r.endpoint).sort()).toEqual(results.map((r) => r.endpoint).sort());
    for (const [i, r] of results.entries()) {
      expect(r.worker).toBe('w-pool');
      expect(r.started_at).toBeGreaterThanOrEqual(batch[i]!.scheduledAt);
    }
    expect(pool.stats()).toMatchObject({ inFlight: 0, completed: paths.length, threadDeaths: 0 });
  });

  test('run() streams every result to the listener before it resolves', async () => {
    const pool = newPool();
    const seen: string[] = [];
    await pool.run(
      ['/ok', '/status/503', '/reset'].map((p, i) => item(spec(`${target.url}${p}`, { id: `s${i}` }))),
      (r) => seen.push(`${r.endpoint}:${r.error}`),
    );
    expect(seen.sort()).toEqual(['s0:null', 's1:status 503', 's2:connection reset']);
  });

  test('a big batch is split across threads; every check reported exactly once', async () => {
    const pool = newPool({ maxChecksPerTask: 32 });
    const batch = Array.from({ length: 300 }, (_, i) =>
      item(spec(`${target.url}/count/big-batch`, { id: `b${i}` })),
    );
    let streamed = 0;
    const results = await pool.runAll(batch, () => {
      streamed++;
    });
    expect(streamed).toBe(300);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(new Set(results.map((r) => r.endpoint)).size).toBe(300);
    expect(target.hits('/count/big-batch')).toBe(300);
  });

  test('a hung check does not delay the other results of its batch', async () => {
    const pool = newPool();
    await warm(pool);
    const t0 = Date.now();
    const arrivals = new Map<string, number>();
    const batch = [
      item(spec(`${target.url}/hang`, { id: 'hung', timeoutMs: 2500 })),
      ...Array.from({ length: 10 }, (_, i) => item(spec(`${target.url}/ok`, { id: `fast${i}` }))),
    ];
    const done = pool.runAll(batch, (r) => {
      arrivals.set(r.endpoint, Date.now() - t0);
    });
    // All fast results arrive long before the hung check's 2.5 s budget ends.
    await waitFor(() => arrivals.size >= 10, {
      timeoutMs: 1500,
      intervalMs: 10,
      message: 'fast results streamed',
    });
    expect(arrivals.has('hung')).toBe(false);
    const results = await done;
    expect(results[0]).toMatchObject({ endpoint: 'hung', ok: false, error: 'timeout' });
    expect(arrivals.get('hung')!).toBeGreaterThanOrEqual(2400);
  });

  test('a thread that exits: its unfinished checks fail with "worker thread died", the pool keeps working', async () => {
    const pool = newPool({ env: { WATCHER_TEST_HOOKS: '1' } });
    await warm(pool);
    const batch = [
      item(
        spec(`${target.url}/hang`, {
          id: 'killer',
          headers: { 'x-watcher-test-hook': 'exit:200' },
          timeoutMs: 5000,
        }),
      ),
      item(spec(`${target.url}/hang`, { id: 'victim', timeoutMs: 5000 })),
      item(spec(`${target.url}/ok`, { id: 'done-before' })),
    ];
    const t0 = Date.now();
    const results = await pool.runAll(batch);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(results.map((r) => [r.endpoint, r.error])).toEqual([
      ['killer', 'local: worker thread died'],
      ['victim', 'local: worker thread died'],
      ['done-before', null],
    ]);
    expect(pool.stats().threadDeaths).toBe(1);
    // The thread was replaced: the pool still has its threads and runs checks on both.
    const again = await pool.runAll(Array.from({ length: 20 }, () => item(spec(`${target.url}/ok`))));
    expect(again.every((r) => r.ok)).toBe(true);
    expect(pool.stats().threads).toBe(2);
  });

  test('an uncaught error in a thread is handled like a death', async () => {
    const pool = newPool({ env: { WATCHER_TEST_HOOKS: '1' } });
    await warm(pool);
    const results = await pool.runAll([
      item(
        spec(`${target.url}/hang`, {
          id: 'thrower',
          headers: { 'x-watcher-test-hook': 'throw:100' },
          timeoutMs: 5000,
        }),
      ),
    ]);
    expect(results[0]).toMatchObject({ endpoint: 'thrower', ok: false, error: 'local: worker thread died' });
    expect((await pool.runAll([item(spec(`${target.url}/ok`))]))[0]!.ok).toBe(true);
  });

  test('test hooks are ignored unless WATCHER_TEST_HOOKS=1 in the thread', async () => {
    const pool = newPool({ env: { WATCHER_TEST_HOOKS: '0' } });
    const results = await pool.runAll([
      item(spec(`${target.url}/slow?ms=300`, { headers: { 'x-watcher-test-hook': 'exit:10' } })),
    ]);
    expect(results[0]).toMatchObject({ ok: true });
    expect(pool.stats().threadDeaths).toBe(0);
  });

  test('close(grace): in-flight checks finish within the grace, the rest fail with shutdown', async () => {
    const pool = newPool();
    await warm(pool);
    const done = pool.runAll([
      item(spec(`${target.url}/slow?ms=200`, { id: 'quick', timeoutMs: 5000 })),
      item(spec(`${target.url}/hang`, { id: 'stuck', timeoutMs: 20_000 })),
    ]);
    await waitFor(() => target.hits('/hang') > 0 && pool.stats().inFlight === 2, {
      timeoutMs: 2000,
      intervalMs: 10,
      message: 'both checks started',
    });
    const t0 = Date.now();
    await pool.close(800);
    expect(Date.now() - t0).toBeLessThan(3000);
    const results = await done;
    expect(results.map((r) => [r.endpoint, r.ok, r.error])).toEqual([
      ['quick', true, null],
      ['stuck', false, 'local: shutdown'],
    ]);
    const after = await pool.runAll([item(spec(`${target.url}/ok`, { id: 'late' }))]);
    expect(after[0]).toMatchObject({ endpoint: 'late', ok: false, error: 'local: shutdown' });
    expect(pool.stats()).toMatchObject({ closed: true, inFlight: 0 });
  });

  test('close with nothing in flight is quick; endpoint extras never cross into threads', async () => {
    const pool = newPool();
    const endpointLike = {
      ...spec(`${target.url}/ok`),
      sinks: { secret: 'x' },
      schedule: { kind: 'interval', everyMs: 1 },
    };
    const [r] = await pool.runAll([item(endpointLike as CheckSpec)]);
    expect(r!.ok).toBe(true);
    const t0 = Date.now();
    await pool.close(5000);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
