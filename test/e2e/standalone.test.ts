/**
 * End to end: the built `watcher run` (standalone) against a local target. Reads what an operator
 * would: /readyz, /metrics, /api/v1/status, the results file; edits endpoint files live; stops it
 * with SIGTERM.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllSpawned, spawnWorker, type WorkerProcess } from '../support/processes.js';
import { promtoolCheck } from '../support/promtool.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';

interface StatusEndpoint {
  name: string;
  state: string;
  last: { ok: boolean; error: string | null; status_code: number | null } | null;
}

describe('watcher run (standalone)', () => {
  let target: Target;
  let dir: string;
  let worker: WorkerProcess;
  let resultsFile: string;
  const host = () => target.url.replace('http://', '');

  const status = async () => (await worker.http('/api/v1/status')).json<{ endpoints: StatusEndpoint[] }>();
  const endpoint = async (suffix: string) => (await status()).endpoints.find((e) => e.name.endsWith(suffix));
  const results = () =>
    readFileSync(resultsFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(
        (l) => JSON.parse(l) as { endpoint: string; ok: boolean; error: string | null; scheduled_at: number },
      );

  beforeAll(async () => {
    target = await startTarget();
    dir = mkdtempSync(join(tmpdir(), 'watcher-e2e-'));
    resultsFile = join(dir, 'results.jsonl');
    writeFileSync(
      join(dir, 'endpoints.d.yml'),
      [
        `${host()}/ok:`,
        '  scheme: http',
        '  interval: 1s',
        '  success_test: { key: status, value: ok }',
        `${host()}/status/503:`,
        '  scheme: http',
        '  interval: 1s',
        '  alert: { failure_threshold: 2 }',
        '',
      ].join('\n'),
    );
    worker = await spawnWorker({
      id: 'e2e',
      etcd: [],
      endpointsDir: dir,
      resultsFile,
      extraArgs: ['--threads', '1'],
    });
    await worker.waitReady(15_000, '/readyz');
  });

  afterAll(async () => {
    await killAllSpawned();
    await target?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('checks every endpoint and reports results, states and metrics', async () => {
    await waitFor(async () => (await endpoint('/status/503'))?.state === 'DOWN', {
      timeoutMs: 10_000,
      message: '503 endpoint DOWN',
    });
    await waitFor(async () => (await endpoint('/ok'))?.state === 'UP', {
      timeoutMs: 10_000,
      message: 'ok endpoint UP',
    });
    const down = await endpoint('/status/503');
    expect(down?.last?.error).toBe('status 503');
    const metrics = (await worker.http('/metrics')).body;
    expect(metrics).toMatch(
      new RegExp(`watcher_checks_total\\{endpoint="${host()}/ok",result="success"\\} [1-9]`),
    );
    expect(metrics).toMatch(/watcher_checks_total\{endpoint="[^"]+\/status\/503",result="failure"\} [1-9]/);
    expect(metrics).toMatch(/watcher_schedule_lag_seconds_bucket/);
    const lines = await waitFor(() => (results().length >= 4 ? results() : null), {
      timeoutMs: 10_000,
      message: 'results file',
    });
    expect(lines.some((r) => r.endpoint.endsWith('/ok') && r.ok)).toBe(true);
    expect(lines.some((r) => r.endpoint.endsWith('/status/503') && r.error === 'status 503')).toBe(true);
    expect(target.hits('/ok')).toBeGreaterThan(0);
    // every request names its slot, and the slots are exactly the ones in the results file
    const slots = target.hitLog.filter((h) => h.path === '/ok').map((h) => h.slot);
    expect(slots.every((s) => typeof s === 'number' && s % 1000 === slots[0]! % 1000)).toBe(true);
    const fileSlots = new Set(lines.filter((r) => r.endpoint.endsWith('/ok')).map((r) => r.scheduled_at));
    for (const s of fileSlots) expect(slots).toContain(s);
  });

  it('picks up an added file, a broken file and its fix without restart', async () => {
    const extra = join(dir, 'extra.yml');
    writeFileSync(extra, `${host()}/count/extra:\n  scheme: http\n  interval: 1s\n`);
    await waitFor(() => target.hits('/count/extra') > 0, {
      timeoutMs: 5_000,
      message: 'added endpoint checked',
    });

    writeFileSync(extra, `${host()}/count/extra:\n  scheme: http\n  intervall: 1s\n`);
    await waitFor(
      async () => (await worker.http('/metrics')).body.includes('watcher_config_errors_total{file='),
      { timeoutMs: 5_000, message: 'config error counted' },
    );
    const okHits = target.hits('/ok');
    await waitFor(() => target.hits('/ok') > okHits + 1, {
      timeoutMs: 5_000,
      message: 'good file keeps running',
    });
    expect((await worker.http('/readyz')).status).toBe(200);

    const before = target.hits('/count/extra');
    writeFileSync(extra, `${host()}/count/extra:\n  scheme: http\n  interval: 1s\n`);
    await waitFor(() => target.hits('/count/extra') > before, {
      timeoutMs: 5_000,
      message: 'fixed file checked again',
    });
  });

  it('drops the series of a removed endpoint; exports no cluster metrics; promtool-clean', async () => {
    const extra = join(dir, 'extra.yml');
    const series = `watcher_checks_total{endpoint="${host()}/count/extra"`;
    await waitFor(async () => (await worker.http('/metrics')).body.includes(series), {
      timeoutMs: 5_000,
      message: 'extra endpoint exported',
    });
    rmSync(extra);
    const text = await waitFor(
      async () => {
        const body = (await worker.http('/metrics')).body;
        return body.includes(series) ? null : body;
      },
      { timeoutMs: 5_000, message: 'series of the removed endpoint gone' },
    );
    expect(text).toContain(`watcher_checks_total{endpoint="${host()}/ok"`);
    for (const name of [
      'etcd_up',
      'is_admin',
      'jobsets_owned',
      'jobs_waiting',
      'cluster_spare_capacity',
      'cluster_workers_needed',
      'claims_total',
      'etcd_write_errors_total',
    ]) {
      expect(text, name).not.toContain(`watcher_${name}`);
    }
    const lint = promtoolCheck(text);
    if (lint !== null) expect(lint).toBe('');
  });

  it('serves its endpoint-file schema at /schema/endpoints.schema.json', async () => {
    const r = await worker.http('/schema/endpoints.schema.json');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/schema+json');
    expect(r.body).toBe(
      readFileSync(join(import.meta.dirname, '../../schema/endpoints.schema.json'), 'utf8'),
    );
  });

  it('stops gracefully on SIGTERM with exit code 0', async () => {
    await worker.stop();
    const info = await worker.exited;
    expect(info.code).toBe(0);
  });
});
