import { describe, expect, it } from 'vitest';
import { AlertBook, stateChangeId } from '../../src/alerts/book.js';
import type { AlertState, Health } from '../../src/model/alert.js';
import type { CheckResult } from '../../src/model/result.js';

const T0 = Date.UTC(2026, 0, 1);
const policy = (failureThreshold = 1, successThreshold = 1) => ({ failureThreshold, successThreshold });

let clock = T0;
function result(endpoint: string, ok: boolean): CheckResult {
  clock += 1000;
  return {
    endpoint,
    scheduled_at: clock,
    started_at: clock + 2,
    duration_ms: 5,
    ok,
    status_code: ok ? 200 : null,
    error: ok ? null : 'connect ECONNREFUSED',
    values: { status: ok ? 'ok' : '' },
    worker: 'w1',
  };
}

/** Feed "endpoint:o|x" steps; return each change as "endpoint FROM>TO[S]" (S = suppressed). */
function feed(book: AlertBook, steps: string[]): string[] {
  const out: string[] = [];
  for (const step of steps) {
    const [name, c] = step.split(':') as [string, string];
    const ch = book.apply(result(name, c === 'o'));
    if (ch) out.push(`${ch.endpoint} ${ch.from}>${ch.to}${ch.suppressed ? ' S' : ''}`);
  }
  return out;
}

function bookWith(parentState?: (name: string) => Health | undefined): AlertBook {
  const book = new AlertBook({ parentState });
  book.configure('lb', { policy: policy(), dependsOn: [] });
  book.configure('app', { policy: policy(), dependsOn: ['lb'] });
  book.configure('db', { policy: policy(2, 1), dependsOn: [] });
  book.configure('api', { policy: policy(), dependsOn: ['db', 'remote'] });
  return book;
}

describe('AlertBook', () => {
  it.each([
    ['parent DOWN -> child DOWN suppressed', ['lb:x', 'app:x'], ['lb UNKNOWN>DOWN', 'app UNKNOWN>DOWN S']],
    ['parent UP -> child DOWN alerts', ['lb:o', 'app:x'], ['lb UNKNOWN>UP', 'app UNKNOWN>DOWN']],
    [
      'parent UP again -> the child’s next DOWN is not suppressed',
      ['lb:x', 'app:x', 'lb:o', 'app:o', 'app:x'],
      ['lb UNKNOWN>DOWN', 'app UNKNOWN>DOWN S', 'lb DOWN>UP', 'app DOWN>UP', 'app UP>DOWN'],
    ],
    [
      'the child’s recovery is never suppressed',
      ['lb:x', 'app:x', 'app:o'],
      ['lb UNKNOWN>DOWN', 'app UNKNOWN>DOWN S', 'app DOWN>UP'],
    ],
    [
      'parent still failing but not yet DOWN (threshold 2): child not suppressed',
      ['db:x', 'api:x'],
      ['api UNKNOWN>DOWN'],
    ],
    [
      'any of several parents DOWN suppresses',
      ['db:x', 'db:x', 'api:x'],
      ['db UNKNOWN>DOWN', 'api UNKNOWN>DOWN S'],
    ],
    ['a parent never suppresses its own DOWN', ['app:o', 'lb:x'], ['app UNKNOWN>UP', 'lb UNKNOWN>DOWN']],
  ])('%s', (_name, steps, expected) => {
    expect(feed(bookWith(), steps)).toEqual(expected);
  });

  it('asks parentState for parents owned elsewhere', () => {
    const remote: Record<string, Health> = { remote: 'DOWN' };
    const asked: string[] = [];
    const book = bookWith((name) => {
      asked.push(name);
      return remote[name];
    });
    expect(feed(book, ['api:x'])).toEqual(['api UNKNOWN>DOWN S']);
    expect(asked).toContain('remote');
    expect(asked).not.toContain('db'); // own endpoints come from the book
    remote.remote = 'UP';
    expect(feed(book, ['api:o', 'api:x'])).toEqual(['api DOWN>UP', 'api UP>DOWN']);
    // unknown to everyone: not DOWN
    expect(feed(new AlertBook(), [])).toEqual([]);
    const lone = new AlertBook();
    lone.configure('c', { policy: policy(), dependsOn: ['nobody'] });
    expect(feed(lone, ['c:x'])).toEqual(['c UNKNOWN>DOWN']);
  });

  it('builds a complete StateChange with a deterministic id', () => {
    const book = bookWith();
    const r = result('lb', false);
    const ch = book.apply(r)!;
    expect(ch).toEqual({
      endpoint: 'lb',
      from: 'UNKNOWN',
      to: 'DOWN',
      at: r.scheduled_at,
      reason: 'connect ECONNREFUSED',
      suppressed: false,
      result: r,
      id: stateChangeId('lb', 'DOWN', r.scheduled_at),
    });
    expect(ch.id).toMatch(/^[0-9a-f]{16}$/);
    // another worker running the same slot reaches the same id
    const other = bookWith();
    expect(other.apply({ ...r, worker: 'w2', started_at: r.started_at + 40 })!.id).toBe(ch.id);
    expect(stateChangeId('lb', 'UP', r.scheduled_at)).not.toBe(ch.id);
    expect(stateChangeId('lb', 'DOWN', r.scheduled_at + 1)).not.toBe(ch.id);
  });

  it('continues loaded states: loaded DOWN + failure makes no change', () => {
    const book = bookWith();
    const loaded: AlertState = {
      endpoint: 'lb',
      state: 'DOWN',
      consecutiveFailures: 3,
      consecutiveSuccesses: 0,
      since: T0 - 60_000,
      reason: 'timeout',
    };
    book.load([loaded]);
    expect(book.get('lb')).toEqual(loaded);
    expect(feed(book, ['lb:x', 'lb:x'])).toEqual([]);
    // and the loaded DOWN parent suppresses its child
    expect(feed(book, ['app:x'])).toEqual(['app UNKNOWN>DOWN S']);
    expect(feed(book, ['lb:o'])).toEqual(['lb DOWN>UP']);
  });

  it('load accepts a Map and states that arrive before configure', () => {
    const book = new AlertBook();
    const st: AlertState = {
      endpoint: 'late',
      state: 'UP',
      consecutiveFailures: 0,
      consecutiveSuccesses: 9,
      since: T0 - 1,
      reason: null,
    };
    book.load(new Map([['late', st]]));
    expect(book.get('late')).toBeUndefined(); // not configured yet
    expect(book.apply(result('late', false))).toBeNull();
    book.configure('late', { policy: policy(2), dependsOn: [] });
    expect(book.get('late')?.state).toBe('UP');
    expect(feed(book, ['late:x', 'late:x'])).toEqual(['late UP>DOWN']);
  });

  it('a load does not undo a transition this worker saw later', () => {
    const book = bookWith();
    feed(book, ['lb:x']); // DOWN now, since = this slot
    const stale: AlertState = {
      endpoint: 'lb',
      state: 'UP',
      consecutiveFailures: 0,
      consecutiveSuccesses: 4,
      since: T0 - 60_000,
      reason: null,
    };
    book.load([stale]);
    expect(book.get('lb')?.state).toBe('DOWN');
  });

  it('configure keeps the state; remove drops it; unknown endpoints are ignored', () => {
    const book = bookWith();
    feed(book, ['app:x']);
    book.configure('app', { policy: policy(5, 5), dependsOn: [] });
    expect(book.get('app')?.state).toBe('DOWN');
    expect(feed(book, ['app:o', 'app:o', 'app:o', 'app:o'])).toEqual([]);
    expect(feed(book, ['app:o'])).toEqual(['app DOWN>UP']);
    book.remove('app');
    expect(book.get('app')).toBeUndefined();
    expect(book.apply(result('app', false))).toBeNull();
    expect(
      book
        .all()
        .map((s) => s.endpoint)
        .sort(),
    ).toEqual(['api', 'db', 'lb']);
    expect(book.names().sort()).toEqual(['api', 'db', 'lb']);
  });

  it('get/all hand out copies', () => {
    const book = bookWith();
    const s = book.get('lb')!;
    s.state = 'DOWN';
    expect(book.get('lb')?.state).toBe('UNKNOWN');
  });
});
