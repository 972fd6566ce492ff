import { describe, expect, it } from 'vitest';
import { WaitTimeoutError, waitFor, withTimeout } from '../support/wait.js';

describe('waitFor', () => {
  it('returns the first truthy value', async () => {
    let n = 0;
    const v = await waitFor(() => (++n >= 3 ? `got ${n}` : undefined), {
      timeoutMs: 2000,
      intervalMs: 5,
      message: 'n',
    });
    expect(v).toBe('got 3');
  });

  it('awaits async functions and treats a throw as "not yet"', async () => {
    let n = 0;
    const v = await waitFor(
      async () => {
        if (++n < 3) throw new Error('not ready');
        return n;
      },
      { timeoutMs: 2000, intervalMs: 5, message: 'async' },
    );
    expect(v).toBe(3);
  });

  it('throws on deadline with the message and the last value', async () => {
    const t0 = Date.now();
    const err = await waitFor(() => 0, {
      timeoutMs: 150,
      intervalMs: 20,
      message: 'never',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toMatch(/^never \(not met within 150 ms, \d+ attempts; last value: 0\)$/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('reports the last error on deadline', async () => {
    const err = await waitFor(
      () => {
        throw new Error('boom');
      },
      { timeoutMs: 50, intervalMs: 10, message: 'fails' },
    ).catch((e: unknown) => e as WaitTimeoutError);
    expect(err.message).toContain('last error: Error: boom');
    expect((err.lastError as Error).message).toBe('boom');
  });
});

describe('withTimeout', () => {
  it('passes through a settled promise and rejects a hanging one', async () => {
    expect(await withTimeout(Promise.resolve(7), 100, 'x')).toBe(7);
    await expect(withTimeout(new Promise(() => {}), 30, 'hang')).rejects.toThrow(
      'hang did not settle within 30 ms',
    );
  });
});
