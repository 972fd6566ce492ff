/**
 * The SSE stream over a real HTTP socket on 127.0.0.1: ids, resumption with Last-Event-ID, an id
 * of another process, and a client that stops reading (its buffer stays bounded, its loss is
 * counted and it is told with one `reset` event).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type createEventStreams, EventStream } from '../../src/server/event-stream.js';
import type { StatusServer } from '../../src/server/status-server.js';
import { waitFor } from '../support/wait.js';
import { openSse, stubServer } from './support.js';

let server: StatusServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

describe('event stream', () => {
  it('resumes after a cut with Last-Event-ID: nothing missed, nothing repeated', async () => {
    const s = await stubServer();
    server = s.server;
    const first = await openSse(`${s.base}/api/v1/events?scope=local`);
    for (let i = 0; i < 5; i++) s.streams.local.publish('result', { endpoint: 'e', n: i });
    await waitFor(() => first.events.length === 5, { timeoutMs: 3000, message: '5 events' });
    const lastId = first.events[4]!.id!;
    expect(lastId).toMatch(new RegExp(`^${s.streams.local.epoch}\\.\\d+$`));
    first.close();
    await waitFor(() => s.streams.local.size === 0, { timeoutMs: 3000, message: 'client gone' });
    for (let i = 5; i < 9; i++) s.streams.local.publish('result', { endpoint: 'e', n: i });

    const again = await openSse(`${s.base}/api/v1/events?scope=local`, { 'last-event-id': lastId });
    s.streams.local.publish('result', { endpoint: 'e', n: 9 });
    await waitFor(() => again.events.length === 5, { timeoutMs: 3000, message: '5 more events' });
    expect(again.events.map((e) => (JSON.parse(e.data) as { n: number }).n)).toEqual([5, 6, 7, 8, 9]);
    again.close();
  });

  it('the cluster stream carries local events with their origin', async () => {
    const s = await stubServer();
    server = s.server;
    const c = await openSse(`${s.base}/api/v1/events`);
    s.streams.local.publish('state', { endpoint: 'e', to: 'DOWN' });
    await waitFor(() => c.events.length === 1, { timeoutMs: 3000, message: 'one event' });
    expect(c.events[0]!.event).toBe('state');
    expect(JSON.parse(c.events[0]!.data)).toEqual({ endpoint: 'e', to: 'DOWN', origin: 'self' });
    c.close();
  });

  it('an id of another process (restarted worker) gets a reset, then live events', async () => {
    const s = await stubServer();
    server = s.server;
    const c = await openSse(`${s.base}/api/v1/events?scope=local`, { 'last-event-id': 'otherepoch.42' });
    s.streams.local.publish('result', { n: 1 });
    await waitFor(() => c.events.length === 2, { timeoutMs: 3000, message: 'reset + event' });
    expect(c.events.map((e) => e.event)).toEqual(['reset', 'result']);
    expect(JSON.parse(c.events[0]!.data)).toEqual({ missed: null });
    c.close();
  });

  it('a client that stops reading stays bounded; every loss is counted and told', async () => {
    const dropped: number[] = [];
    const local = new EventStream({ ringSize: 500, onDropped: (n) => dropped.push(n) });
    const streams = { local, cluster: new EventStream() };
    const s = await stubServer({ streams: streams as ReturnType<typeof createEventStreams> });
    server = s.server;
    const slow = await openSse(`${s.base}/api/v1/events?scope=local`);
    slow.pause();
    const payload = 'x'.repeat(1000);
    // ~40 MB in total: far more than the socket buffers of both ends can absorb
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 1000; i++) local.publish('result', { endpoint: `e${i}`, payload });
      await new Promise((r) => setImmediate(r));
      expect(local.maxBuffered()).toBeLessThan(64 * 1024);
    }
    expect(local.droppedTotal).toBeGreaterThan(0);
    slow.resume();
    await waitFor(() => slow.events.some((e) => e.event === 'reset'), {
      timeoutMs: 10_000,
      message: 'reset',
    });
    await waitFor(() => local.maxBuffered() === 0, { timeoutMs: 10_000, message: 'client caught up' });
    const resets = slow.events.filter((e) => e.event === 'reset');
    // one reset per time it fell out of the ring (each socket drain), each with what it missed
    expect(resets.length).toBeGreaterThanOrEqual(1);
    expect(resets.length).toBeLessThanOrEqual(40);
    const missed = resets.reduce((n, e) => n + (JSON.parse(e.data) as { missed: number }).missed, 0);
    expect(missed).toBe(local.droppedTotal);
    const got = slow.events.filter((e) => e.event === 'result').length;
    expect(got + missed).toBe(40_000);
    expect(dropped.reduce((a, b) => a + b, 0)).toBe(local.droppedTotal);
    // and it is live again afterwards
    const before = slow.events.length;
    local.publish('result', { endpoint: 'after' });
    await waitFor(() => slow.events.length > before && slow.events.at(-1)!.data.includes('after'), {
      timeoutMs: 5000,
      message: 'live after the reset',
    });
    slow.close();
  });
});
