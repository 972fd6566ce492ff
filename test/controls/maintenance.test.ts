/**
 * Maintenance windows: the `maintenance:` field normalised with a position on each problem, the
 * window arithmetic (cron + duration in a time zone, fixed from/to), and the engine marking
 * results and holding state changes inside a window while checks go on.
 */
import { describe, expect, it } from 'vitest';
import { maintenanceAt } from '../../src/alerts/maintenance.js';
import { parseFile } from '../../src/config/index.js';
import { createEngineControls } from '../../src/controls/holds.js';
import { type CheckRunner, Engine } from '../../src/engine/engine.js';
import type { StateChange } from '../../src/model/alert.js';
import { FakeClock } from '../../src/model/clock.js';
import type { CheckSpec, Endpoint, MaintenanceWindow } from '../../src/model/endpoint.js';
import { silentLogger } from '../../src/model/logger.js';
import type { CheckResult } from '../../src/model/result.js';
import { isAlertWorthy } from '../../src/sinks/template-values.js';
import { endpoint } from '../engine/fixtures.js';

function load(text: string) {
  return parseFile(text, 'm.yml', { env: {} });
}

describe('maintenance: in endpoint files', () => {
  it('normalises cron and fixed windows; the cron window takes the endpoint timezone unless it has its own', () => {
    const out = load(`
api.example.com/health:
  interval: 30s
  timezone: America/New_York
  maintenance:
    - { cron: "0 2 * * SUN", duration: 2h, timezone: Europe/Paris }
    - { cron: "30 3 * * *", duration: 15m }
    - { from: "2026-12-24T18:00:00Z", to: "2026-12-26T08:00:00+01:00" }
`);
    expect(out.problems).toEqual([]);
    expect(out.endpoints[0]!.maintenance).toEqual([
      { kind: 'cron', expr: '0 2 * * SUN', timezone: 'Europe/Paris', durationMs: 7_200_000 },
      { kind: 'cron', expr: '30 3 * * *', timezone: 'America/New_York', durationMs: 900_000 },
      { kind: 'fixed', fromMs: Date.parse('2026-12-24T18:00:00Z'), toMs: Date.parse('2026-12-26T07:00:00Z') },
    ]);
  });

  it('an endpoint without windows has no maintenance field (its hash is unchanged)', () => {
    const out = load('a.example.com/h:\n  interval: 30s\n');
    expect(out.endpoints[0]).not.toHaveProperty('maintenance');
  });

  // [item, the text the column points at, code, message]
  it.each([
    ['- { cron: "0 2 * * SUN" }', '{ cron', 'CFG_MAINTENANCE', '`maintenance` window: `duration` is missing'],
    [
      '- { from: "2026-12-24T18:00:00Z" }',
      '{ from',
      'CFG_MAINTENANCE',
      '`maintenance` window: `to` is missing',
    ],
    [
      '- { cron: "0 2 * * *", duration: 1h, from: "2026-12-24T18:00:00Z" }',
      '{ cron',
      'CFG_MAINTENANCE',
      '`maintenance` window: write either { cron, duration } or { from, to }, not both',
    ],
    ['- { cron: "0 25 * * *", duration: 1h }', '"0 25', 'CFG_CRON', '`cron` "0 25 * * *" is invalid'],
    [
      '- { cron: "0 2 * * *", duration: 1h, timezone: Mars/Base }',
      'Mars/Base',
      'CFG_TIMEZONE',
      'unknown time zone "Mars/Base"',
    ],
    [
      '- { from: "2026-12-24 18:00", to: "2026-12-26T08:00:00Z" }',
      '"2026-12-24 18:00"',
      'CFG_MAINTENANCE',
      '`from` must be an ISO 8601 time with a zone',
    ],
    [
      '- { from: "2026-12-26T08:00:00Z", to: "2026-12-24T18:00:00Z" }',
      '"2026-12-24T18',
      'CFG_MAINTENANCE',
      '`to` must be after `from`',
    ],
    ['- { cron: "0 2 * * *", duration: -1h }', '-1h', 'CFG_', 'duration'],
  ])('refuses %s with a positioned, stable problem', (item, at, code, message) => {
    const line = `    ${item}`;
    const out = load(`
api.example.com/health:
  interval: 30s
  maintenance:
${line}
`);
    expect(out.endpoints).toEqual([]);
    const p = out.problems[0]!;
    expect(p).toMatchObject({ file: 'm.yml', line: 5, col: line.indexOf(at) + 1 });
    expect(p.code.startsWith(code)).toBe(true);
    expect(p.message).toContain(message);
  });

  it('a field that is not a window field is a schema error at its position', () => {
    const out = load(`
api.example.com/health:
  interval: 30s
  maintenance:
    - { cron: "0 2 * * *", duration: 1h, durtion: 2h }
`);
    expect(out.endpoints).toEqual([]);
    expect(out.problems[0]!.line).toBe(5);
    expect(out.problems[0]!.message).toMatch(/durtion/);
  });
});

describe('maintenanceAt', () => {
  const sunday2am: MaintenanceWindow = {
    kind: 'cron',
    expr: '0 2 * * SUN',
    timezone: 'Europe/Paris',
    durationMs: 2 * 3_600_000,
  };

  it('a cron window opens at each occurrence in its time zone and lasts its duration', () => {
    // 2026-12-06 is a Sunday; 02:00 Paris = 01:00Z in winter.
    const open = Date.parse('2026-12-06T01:00:00Z');
    expect(maintenanceAt([sunday2am], open - 1)).toBeNull();
    expect(maintenanceAt([sunday2am], open)).toBe(sunday2am);
    expect(maintenanceAt([sunday2am], open + 2 * 3_600_000 - 1)).toBe(sunday2am);
    expect(maintenanceAt([sunday2am], open + 2 * 3_600_000)).toBeNull();
    // the cached span must not leak into the next week
    expect(maintenanceAt([sunday2am], open + 7 * 86_400_000 + 60_000)).toBe(sunday2am);
    expect(maintenanceAt([sunday2am], open + 3 * 86_400_000)).toBeNull();
    // going back in time (a wall-clock step) is answered afresh
    expect(maintenanceAt([sunday2am], open + 1000)).toBe(sunday2am);
  });

  it('a fixed window is [from, to)', () => {
    const w: MaintenanceWindow = { kind: 'fixed', fromMs: 1000, toMs: 2000 };
    expect(maintenanceAt([w], 999)).toBeNull();
    expect(maintenanceAt([w], 1000)).toBe(w);
    expect(maintenanceAt([w], 1999)).toBe(w);
    expect(maintenanceAt([w], 2000)).toBeNull();
    expect(maintenanceAt(undefined, 1500)).toBeNull();
  });
});

describe('engine inside a maintenance window', () => {
  it('checks go on; results carry maintenance: true; the DOWN change is held from sinks; status shows it', async () => {
    const start = Date.UTC(2026, 0, 1);
    const clock = new FakeClock(start);
    const ran: string[] = [];
    const runner: CheckRunner = {
      setServeCap() {},
      async run(batch: Array<{ spec: CheckSpec; scheduledAt: number }>, onResult: (r: CheckResult) => void) {
        for (const { spec, scheduledAt } of batch) {
          ran.push(spec.id);
          onResult({
            endpoint: spec.id,
            scheduled_at: scheduledAt,
            started_at: scheduledAt,
            duration_ms: 1,
            ok: false,
            status_code: 503,
            error: 'status 503',
            values: {},
            worker: 'w',
          });
        }
      },
      async close() {},
    };
    let listener:
      | ((m: ReadonlyMap<string, { endpoint: Endpoint; takenOver: boolean; dueSince: number }>) => void)
      | null = null;
    const results: CheckResult[] = [];
    const changes: StateChange[] = [];
    const engine = new Engine({
      clock,
      runner,
      coordinator: {
        mode: 'standalone',
        async start() {},
        onOwnedChange: (fn: NonNullable<typeof listener>) => {
          listener = fn;
        },
        async loadAlertStates() {
          return new Map();
        },
        saveAlertState() {},
        setDispatchHorizon() {},
        mayRun: () => true,
        reportLag() {},
        setLocallyDegraded() {},
        setDesired() {},
        ready: () => true,
        status: () => ({
          mode: 'standalone',
          self: 'w',
          admin: null,
          etcdUp: null,
          workers: [],
          jobsets: [],
          waiting: 0,
        }),
        async stop() {},
      } as never,
      outputs: { result: (r) => results.push(r), stateChange: (c) => changes.push(c) },
      controls: createEngineControls(),
      logger: silentLogger,
    });
    engine.start();
    const ep: Endpoint = {
      ...endpoint('m'),
      maintenance: [{ kind: 'fixed', fromMs: start, toMs: start + 10_000 }],
    };
    listener!(new Map([['m', { endpoint: ep, takenOver: false, dueSince: 0 }]]));
    clock.advance(3_000);
    await Promise.resolve();
    expect(ran.length).toBeGreaterThanOrEqual(2);
    expect(results.every((r) => r.maintenance === true)).toBe(true);
    const down = changes.find((c) => c.to === 'DOWN');
    expect(down?.maintenance).toBe(true);
    expect(isAlertWorthy(down!)).toBe(false);
    expect(engine.status()[0]).toMatchObject({
      state: 'DOWN',
      maintenance: true,
      silenced: false,
      paused: false,
    });
    clock.advance(10_000);
    await Promise.resolve();
    expect(results.at(-1)!.maintenance).toBeUndefined();
    expect(engine.status()[0]!.maintenance).toBe(false);
    await engine.stop(10);
  });
});
