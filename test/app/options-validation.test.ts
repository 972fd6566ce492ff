/**
 * Constructor options are checked up front with a TypeError or RangeError that names the option
 * (nothing is clamped silently), and config problems are reported once per broken file.
 */
import { describe, expect, it } from 'vitest';
import { ConfigProblemReport } from '../../src/app/config-report.js';
import { CheckPool } from '../../src/checks/pool.js';
import type { ConfigSnapshot } from '../../src/config/types.js';
import { FakeClock } from '../../src/model/clock.js';
import { silentLogger } from '../../src/model/logger.js';
import { intOption, numberOption } from '../../src/model/option-checks.js';
import { LagTracker } from '../../src/schedule/lag.js';
import { Scheduler } from '../../src/schedule/scheduler.js';
import type { SelfEvent } from '../../src/sinks/index.js';

describe('option checks', () => {
  it('intOption / numberOption: default, TypeError for the type, RangeError for the range', () => {
    expect(intOption('n', undefined, 4, 1)).toBe(4);
    expect(() => intOption('n', 1.5, 4, 1)).toThrow(new TypeError('n must be an integer, got 1.5'));
    expect(() => intOption('n', 0, 4, 1)).toThrow(new RangeError('n must be an integer >= 1, got 0'));
    expect(numberOption('f', 0.5, 1, 0, 1)).toBe(0.5);
    expect(() => numberOption('f', 2, 1, 0, 1)).toThrow(new RangeError('f must be between 0 and 1, got 2'));
  });

  it('the scheduler rejects a bad maxBatch instead of clamping it', () => {
    const clock = new FakeClock();
    expect(() => new Scheduler({ clock, onDue: () => {}, maxBatch: 0 })).toThrow(
      new RangeError('maxBatch must be an integer >= 1, got 0'),
    );
    expect(() => new Scheduler({ clock, onDue: () => {}, maxBatch: 2.5 })).toThrow(TypeError);
  });

  it('the lag tracker rejects perJob < 1 and sustain > perJob', () => {
    expect(() => new LagTracker({ perJob: 0 })).toThrow(
      new RangeError('perJob must be an integer >= 1, got 0'),
    );
    expect(() => new LagTracker({ perJob: 4, sustain: 5 })).toThrow(
      new RangeError('sustain must be at most perJob (4), got 5'),
    );
    expect(() => new LagTracker({ perJob: 2 })).not.toThrow();
  });

  it('the check pool rejects a bad maxChecksPerTask before starting any thread', () => {
    expect(() => new CheckPool({ threads: 1, worker: 'w', maxChecksPerTask: 0 })).toThrow(
      new RangeError('maxChecksPerTask must be an integer >= 1, got 0'),
    );
    expect(() => new CheckPool({ threads: 1, worker: 'w', flushSize: -3 })).toThrow(/^flushSize must be/);
  });
});

describe('ConfigProblemReport', () => {
  const problem = (file: string) => ({ file, line: 3, col: 5, code: 'CFG_X', message: 'bad' });
  const snap = (files: string[]): ConfigSnapshot =>
    ({
      endpoints: [],
      self: [],
      problems: files.map(problem),
      files: [],
      raw: new Map(),
    }) as unknown as ConfigSnapshot;

  it('announces a file once when it breaks and once when it is fixed', () => {
    const events: SelfEvent[] = [];
    const counted: string[] = [];
    const report = new ConfigProblemReport({
      workerId: 'w1',
      now: () => 1000,
      logger: silentLogger,
      metrics: { configErrors: { inc: (l: { file: string }) => counted.push(l.file) } } as never,
      selfEvent: (e) => events.push(e),
    });
    report.report(snap(['a.yml']));
    report.report(snap(['a.yml', 'b.yml']));
    report.report(snap(['b.yml']));
    expect(events.map((e) => `${e.kind} ${e.message}`)).toEqual([
      'config_error a.yml:3:5: bad',
      'config_error b.yml:3:5: bad',
      'config_fixed a.yml is valid again',
    ]);
    expect(counted).toEqual(['a.yml', 'b.yml']);
  });
});
