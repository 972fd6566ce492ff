import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/model/backoff.js';
import { FakeClock } from '../../src/model/clock.js';
import { SinkError } from '../../src/sinks/errors.js';
import { Outbox, type OutboxOptions } from '../../src/sinks/outbox.js';
import type { SendReport, Sink } from '../../src/sinks/types.js';
import { captureLogger, counter, freshMetrics } from './fixtures.js';

const tick = () => new Promise<void>((r) => setImmediate(r));
async function settle(n = 5) {
  for (let i = 0; i < n; i++) await tick();
}

class FakeSink implements Sink<string> {
  readonly name = 'fake:test';
  limits = { maxItems: 3, maxBytes: 1000 };
  readonly calls: Array<{ batch: string[]; at: number }> = [];
  behaviour: (batch: string[], signal: AbortSignal) => Promise<SendReport | undefined> = async () =>
    undefined;
  constructor(private readonly clock: FakeClock) {}
  sizeOf(item: string): number {
    return item.length;
  }
  send(batch: string[], signal: AbortSignal): Promise<SendReport | undefined> {
    this.calls.push({ batch, at: this.clock.now() });
    return this.behaviour(batch, signal);
  }
  sent(): string[] {
    return this.calls.flatMap((c) => c.batch);
  }
}

function setup(opts: Partial<OutboxOptions> = {}) {
  const clock = new FakeClock();
  const sink = new FakeSink(clock);
  const metrics = freshMetrics();
  const logger = captureLogger();
  const drops: Array<{ count: number; reason: string }> = [];
  const ob = new Outbox(
    sink,
    {
      flushIntervalMs: 1000,
      bufferSize: 100,
      backoff: { baseMs: 100, maxMs: 1000 },
      maxItemAttempts: 3,
      random: () => 1,
      ...opts,
    },
    { clock, logger, metrics, onDrop: (_s, count, reason) => drops.push({ count, reason }) },
  );
  return { clock, sink, metrics, logger, ob, drops };
}

describe('Outbox batching', () => {
  it('waits up to the flush interval for companions, then sends them together', async () => {
    const { clock, sink, ob } = setup();
    ob.push('a', 'result');
    clock.advance(500);
    ob.push('b', 'result');
    clock.advance(499);
    await settle();
    expect(sink.calls).toHaveLength(0);
    clock.advance(1);
    await settle();
    expect(sink.calls.map((c) => c.batch)).toEqual([['a', 'b']]);
  });

  it('sends at once when a batch is full, one request in flight at a time', async () => {
    const { clock, sink, ob } = setup();
    let release: () => void = () => {};
    sink.behaviour = () => new Promise((r) => (release = () => r(undefined)));
    for (const x of ['1', '2', '3', '4', '5', '6', '7']) ob.push(x, 'result');
    await settle();
    expect(sink.calls.map((c) => c.batch)).toEqual([['1', '2', '3']]);
    release();
    await settle();
    expect(sink.calls.map((c) => c.batch)).toEqual([
      ['1', '2', '3'],
      ['4', '5', '6'],
    ]);
    release();
    await settle();
    // the 7th waits for the interval
    expect(sink.calls).toHaveLength(2);
    clock.advance(1000);
    await settle();
    expect(sink.calls[2]!.batch).toEqual(['7']);
  });

  it('limits a batch by bytes', async () => {
    const { clock, sink, ob } = setup();
    sink.limits = { maxItems: 100, maxBytes: 10 };
    for (const x of ['aaaa', 'bbbb', 'cccc']) ob.push(x, 'result');
    clock.advance(1000);
    await settle();
    expect(sink.calls[0]!.batch).toEqual(['aaaa', 'bbbb']);
  });

  it('puts state changes ahead of results', async () => {
    const { clock, sink, ob } = setup();
    sink.limits = { maxItems: 10, maxBytes: 1000 };
    ob.push('r1', 'result');
    ob.push('r2', 'result');
    ob.push('A1', 'alert');
    clock.advance(1000);
    await settle();
    expect(sink.calls[0]!.batch).toEqual(['A1', 'r1', 'r2']);
  });
});

describe('Outbox bound', () => {
  it('drops the oldest results first, alerts only when no result is left, and counts drops', async () => {
    const { clock, sink, ob, metrics, drops } = setup({ bufferSize: 4 });
    sink.limits = { maxItems: 100, maxBytes: 10_000 };
    ob.push('r1', 'result');
    ob.push('A1', 'alert');
    ob.push('r2', 'result');
    ob.push('r3', 'result');
    ob.push('A2', 'alert'); // evicts r1
    ob.push('A3', 'alert'); // evicts r2
    ob.push('A4', 'alert'); // evicts r3
    ob.push('A5', 'alert'); // no result left: evicts A1
    ob.push('r4', 'result'); // the new result itself is the oldest result
    expect(await counter(metrics, 'sinkDropped', 'fake:test')).toBe(5);
    expect(drops.every((d) => d.reason === 'buffer full')).toBe(true);
    expect(ob.stats()).toMatchObject({ queued: 4, dropped: 5 });
    clock.advance(1000);
    await settle();
    expect(sink.sent()).toEqual(['A2', 'A3', 'A4', 'A5']);
  });
});

describe('Outbox retries', () => {
  it('retries a retryable failure with exponential backoff, then counts what is sent', async () => {
    const { clock, sink, ob, metrics, logger } = setup();
    let failures = 2;
    sink.behaviour = async () => {
      if (failures-- > 0) throw new SinkError('WATCHER_SINK_UNAVAILABLE', 'status 503', { retryable: true });
      return undefined;
    };
    ob.push('a', 'alert');
    clock.advance(1000);
    await settle();
    expect(sink.calls).toHaveLength(1);
    clock.advance(99);
    await settle();
    expect(sink.calls).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(sink.calls).toHaveLength(2);
    // second backoff doubles
    clock.advance(199);
    await settle();
    expect(sink.calls).toHaveLength(2);
    clock.advance(1);
    await settle();
    expect(sink.calls).toHaveLength(3);
    expect(await counter(metrics, 'sinkSent', 'fake:test')).toBe(1);
    expect(ob.stats()).toMatchObject({ queued: 0, sent: 1, dropped: 0, lastError: null });
    expect(logger.lines.filter((l) => l.level === 'warn')).toHaveLength(1);
    expect(logger.lines.some((l) => l.msg === 'sink recovered')).toBe(true);
  });

  it('does not retry before a server-requested wait', async () => {
    const { clock, sink, ob } = setup();
    let first = true;
    sink.behaviour = async () => {
      if (first) {
        first = false;
        throw new SinkError('WATCHER_SINK_UNAVAILABLE', 'status 429', {
          retryable: true,
          retryAfterMs: 5000,
        });
      }
      return undefined;
    };
    ob.push('a', 'result');
    clock.advance(1000);
    await settle();
    clock.advance(4999);
    await settle();
    expect(sink.calls).toHaveLength(1);
    clock.advance(1);
    await settle();
    expect(sink.calls).toHaveLength(2);
    expect(sink.calls[1]!.at - sink.calls[0]!.at).toBe(5000);
  });

  it('drops a batch on a permanent error, counts it and logs once per minute', async () => {
    const { clock, sink, ob, metrics, logger } = setup();
    sink.behaviour = async () => {
      throw new SinkError('WATCHER_SINK_REJECTED', 'status 400: bad', { retryable: false });
    };
    ob.push('a', 'result');
    ob.push('b', 'result');
    clock.advance(1000);
    await settle();
    ob.push('c', 'result');
    clock.advance(1000);
    await settle();
    expect(sink.calls).toHaveLength(2);
    expect(await counter(metrics, 'sinkDropped', 'fake:test')).toBe(3);
    expect(ob.stats().lastError).toBe('status 400: bad');
    expect(logger.lines.filter((l) => l.msg === 'sink dropped items')).toHaveLength(1);
  });

  it('handles per-item outcomes: sent counted, dropped counted, retried resent, bounded attempts', async () => {
    const { clock, sink, ob, metrics } = setup();
    sink.behaviour = async (batch) => ({
      outcomes: batch.map((x) =>
        x === 'ok' ? 'sent' : x === 'bad' ? 'drop' : x === 'never' ? 'retry' : 'sent',
      ),
      error: 'entry failed',
    });
    ob.push('ok', 'result');
    ob.push('bad', 'result');
    ob.push('never', 'result');
    await settle();
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      await settle();
    }
    // 'never' tried maxItemAttempts (3) times, then dropped
    expect(sink.calls.filter((c) => c.batch.includes('never'))).toHaveLength(3);
    expect(await counter(metrics, 'sinkSent', 'fake:test')).toBe(1);
    expect(await counter(metrics, 'sinkDropped', 'fake:test')).toBe(2);
    expect(ob.stats().queued).toBe(0);
  });
});

describe('Outbox close', () => {
  it('flushes without waiting for the interval', async () => {
    const { sink, ob } = setup();
    ob.push('a', 'result');
    await ob.close(5000);
    expect(sink.sent()).toEqual(['a']);
  });

  it('gives up after the grace period, aborts the request and counts the rest as dropped', async () => {
    const { clock, sink, ob, metrics } = setup();
    let aborted = false;
    sink.behaviour = (_b, signal) =>
      new Promise((_r, reject) =>
        signal.addEventListener('abort', () => {
          aborted = true;
          reject(new SinkError('WATCHER_SINK_ABORTED', 'aborted', { retryable: true }));
        }),
      );
    for (const x of ['1', '2', '3', '4']) ob.push(x, 'result');
    await settle();
    const closing = ob.close(2000);
    await settle();
    clock.advance(2000);
    await closing;
    expect(aborted).toBe(true);
    expect(await counter(metrics, 'sinkDropped', 'fake:test')).toBe(4);
    ob.push('late', 'result');
    expect(await counter(metrics, 'sinkDropped', 'fake:test')).toBe(5);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially, is capped, jittered within [d/2, d], and floored by Retry-After', () => {
    const p = { baseMs: 100, maxMs: 1000 };
    expect(backoffDelay(1, p, undefined, () => 1)).toBe(100);
    expect(backoffDelay(3, p, undefined, () => 1)).toBe(400);
    expect(backoffDelay(10, p, undefined, () => 1)).toBe(1000);
    expect(backoffDelay(3, p, undefined, () => 0)).toBe(200);
    expect(backoffDelay(1, p, 3000, () => 0.5)).toBe(3000);
  });
});
