/**
 * The worker's own faults are not the target's (issue 18), each with a real `watcher run` process:
 * too few file descriptors (EMFILE), a results file on a full disk, an endpoints folder that
 * disappears, and a wall clock that steps (libfaketime, monotonic clock untouched).
 */
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HttpDouble } from '../support/doubles/http-double.js';
import { killAllSpawned, spawnWorker } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';

let target: Target;
let hook: HttpDouble;
const dirs: string[] = [];
const slowServers: Server[] = [];

beforeAll(async () => {
  hook = await new HttpDouble(() => ({ status: 200, body: '{}' })).start();
});
beforeEach(async () => {
  target = await startTarget();
});
afterEach(async () => {
  await killAllSpawned();
  await target.close();
  for (const srv of slowServers.splice(0)) {
    srv.closeAllConnections();
    srv.close();
  }
  hook.requests.length = 0;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
afterAll(async () => {
  await hook?.close();
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `watcher-${prefix}-`));
  dirs.push(d);
  return d;
}

/** `n` endpoints on the target checked every second; state changes to /alerts, self events to /self. */
function endpointsFile(
  dir: string,
  n: number,
  extra: string[] = [],
  host = target.url.replace('http://', ''),
): void {
  const lines = ['defaults:', '  scheme: http', '  interval: 1s', `  post_endpoint: ${hook.url}/alerts`];
  for (let i = 0; i < n; i++) lines.push(`${host}/count/e${i}: {}`);
  lines.push('self:', `  post_endpoint: ${hook.url}/self`, ...extra, '');
  writeFileSync(join(dir, 'eps.yml'), lines.join('\n'));
}

const selfEvents = (
  kind: string,
): Array<{ kind: string; message: string; details?: Record<string, unknown> }> =>
  hook.requests
    .filter((r) => r.path === '/self')
    .map((r) => JSON.parse(r.body.toString()).watcher)
    .filter((e) => e.kind === kind);

const alerts = () => hook.requests.filter((r) => r.path === '/alerts').map((r) => r.body.toString());

const metric = (text: string, name: string): number =>
  text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);

/**
 * 300 endpoints every second on a target that answers after 800 ms (~240 sockets open at once),
 * one thread, `ulimit -n 120`: far more sockets wanted than the limit allows.
 */
async function slowTargetsUnderLowFdLimit(id: string, env?: Record<string, string>) {
  const dir = tempDir(id);
  const slow = createServer((_req, res) => {
    setTimeout(() => res.end('{"status":"ok"}'), 800).unref();
  });
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
  slowServers.push(slow);
  endpointsFile(dir, 300, [], `127.0.0.1:${(slow.address() as AddressInfo).port}`);
  return spawnWorker({
    id,
    etcd: [],
    endpointsDir: dir,
    extraArgs: ['--threads', '1'],
    wrap: ['prlimit', '--nofile=120', '--'],
    logLevel: 'info',
    ...(env ? { env } : {}),
  });
}

describe('the worker’s own faults (real processes)', () => {
  it('a low `ulimit -n`: checks queue within the fd budget instead of failing, no DOWN, the shortage is logged', async () => {
    const w = await slowTargetsUnderLowFdLimit('fdbudget');
    await w.waitReady(15_000, '/readyz');
    const sized = await w.waitForLog(
      (r) => r.msg === 'check concurrency sized from the file descriptor limit',
      5000,
    );
    expect(sized.fdLimit).toBe(120);
    expect(Number(sized.checksInFlightPerThread) * 1).toBeLessThan(120);
    await w.waitForLog((r) => String(r.msg).startsWith('file descriptor limit is short'), 5000);
    // several failure thresholds' worth of slots: the checks queue (and are late), none fails locally
    const from = Date.now();
    await waitFor(
      async () =>
        metric((await w.http('/metrics')).body, 'watcher_checks_total') > 300 && Date.now() - from > 5000,
      {
        timeoutMs: 20_000,
        intervalMs: 500,
        message: 'checks completed',
      },
    );
    const body = (await w.http('/metrics')).body;
    expect(metric(body, 'watcher_checks_local_errors_total')).toBe(0);
    expect(alerts().filter((b) => b.includes('DOWN'))).toEqual([]);
    expect(selfEvents('worker_degraded')).toEqual([]);
  }, 60_000);

  it('EMFILE past the fd budget (test hook): no DOWN alert for healthy targets, one worker_degraded', async () => {
    // 1,000 checks at once per thread instead of the fd budget: the checks run out of descriptors
    const w = await slowTargetsUnderLowFdLimit('emfile', {
      WATCHER_TEST_HOOKS: '1',
      WATCHER_TEST_CHECK_SLOTS: '1000',
    });
    await w.waitReady(15_000, '/readyz');
    const degraded = await waitFor(() => selfEvents('worker_degraded')[0], {
      timeoutMs: 15_000,
      message: 'worker_degraded self event',
    });
    expect(degraded.details?.code).toMatch(/^E(M|N)FILE$/);
    // The status server shares the descriptor shortage (accept may fail): ask until it answers.
    const ask = <T>(path: string, parse: (body: string) => T) =>
      waitFor(async () => parse((await w.http(path)).body), {
        timeoutMs: 10_000,
        intervalMs: 100,
        message: `GET ${path}`,
      });
    expect(await ask('/metrics', (t) => metric(t, 'watcher_checks_local_errors_total'))).toBeGreaterThan(0);
    // let several thresholds' worth of local errors pass: still no DOWN for a healthy target
    await new Promise((r) => setTimeout(r, 4000));
    expect(alerts().filter((b) => b.includes('DOWN'))).toEqual([]);
    expect(selfEvents('worker_degraded')).toHaveLength(1);
    const status = await ask(
      '/api/v1/status',
      (b) => JSON.parse(b) as { worker: { degraded: boolean }; endpoints: Array<{ state: string }> },
    );
    expect(status.worker.degraded).toBe(true);
    expect(status.endpoints.filter((e) => e.state === 'DOWN')).toEqual([]);
  }, 60_000);

  it.skipIf(!existsSync('/dev/full'))(
    'results file on a full disk, then writable: reported, drops counted, resumed',
    async () => {
      const dir = tempDir('devfull');
      endpointsFile(dir, 2);
      const path = join(dir, 'results.jsonl');
      symlinkSync('/dev/full', path);
      const w = await spawnWorker({
        id: 'devfull',
        etcd: [],
        endpointsDir: dir,
        resultsFile: path,
        logLevel: 'info',
      });
      await w.waitReady(15_000, '/readyz');
      const failing = await waitFor(() => selfEvents('results_file_failing')[0], {
        timeoutMs: 10_000,
        message: 'results_file_failing self event',
      });
      expect(failing.details?.code).toBe('ENOSPC');
      await waitFor(
        async () => metric((await w.http('/metrics')).body, 'watcher_results_file_dropped_total') >= 4,
        {
          timeoutMs: 10_000,
          message: 'dropped lines counted',
        },
      );
      const real = join(dir, 'real.jsonl');
      unlinkSync(path);
      symlinkSync(real, path);
      const ok = await waitFor(() => selfEvents('results_file_ok')[0], {
        timeoutMs: 20_000,
        message: 'results_file_ok',
      });
      expect(Number(ok.details?.dropped)).toBeGreaterThanOrEqual(4);
      await waitFor(() => existsSync(real) && readFileSync(real, 'utf8').split('\n').length > 3, {
        timeoutMs: 10_000,
        message: 'lines written again',
      });
      expect(selfEvents('results_file_failing')).toHaveLength(1);
    },
    60_000,
  );

  it('the endpoints folder disappears and comes back: last good endpoints keep running, reported, fixed', async () => {
    const dir = tempDir('folder');
    endpointsFile(dir, 2);
    const w = await spawnWorker({ id: 'folder', etcd: [], endpointsDir: dir, logLevel: 'info' });
    await w.waitReady(15_000, '/readyz');
    renameSync(dir, `${dir}.away`);
    dirs.push(`${dir}.away`);
    const err = await waitFor(() => selfEvents('config_error')[0], {
      timeoutMs: 10_000,
      message: 'config_error',
    });
    expect(err.message).toContain('cannot read folder (ENOENT)');
    const hits = target.hits();
    await waitFor(() => target.hits() >= hits + 4, { timeoutMs: 5000, message: 'checks go on' });
    const metrics = (await w.http('/metrics')).body;
    expect(metrics).toContain(`watcher_config_errors_total{file="${dir}"} 1`);
    renameSync(`${dir}.away`, dir);
    await waitFor(() => selfEvents('config_fixed')[0], { timeoutMs: 10_000, message: 'config_fixed' });
    const status = (await w.http('/api/v1/status')).json<{
      endpoints: unknown[];
      config: { problems: unknown[] };
    }>();
    expect(status.endpoints).toHaveLength(2);
    expect(status.config.problems).toEqual([]);
  }, 60_000);

  it.skipIf(!existsSync(LIBFAKETIME))(
    'a wall clock that steps −1 h and +1 h: checks every slot within a second, clock_step sent',
    async () => {
      const dir = tempDir('faketime');
      endpointsFile(dir, 2);
      const rc = join(dir, 'faketime.rc');
      writeFileSync(rc, '+0\n');
      const w = await spawnWorker({
        id: 'faketime',
        etcd: [],
        endpointsDir: dir,
        logLevel: 'info',
        env: {
          LD_PRELOAD: LIBFAKETIME,
          FAKETIME_TIMESTAMP_FILE: rc,
          FAKETIME_CACHE_DURATION: '1',
          FAKETIME_DONT_FAKE_MONOTONIC: '1',
        },
      });
      await w.waitReady(15_000, '/readyz');
      for (const [spec, stepMs] of [
        ['-1h', -3600_000],
        ['+0', 3600_000],
      ] as const) {
        await waitFor(() => target.hitLog.filter((h) => h.path.startsWith('/count/')).length >= 4, {
          timeoutMs: 5000,
          message: 'checking',
        });
        writeFileSync(rc, `${spec}\n`);
        // libfaketime re-reads the file at most once a second: the step happens within ~1 s
        const wrote = Date.now();
        const step = await waitFor(
          () =>
            selfEvents('clock_step').find(
              (e) =>
                e.details?.step_ms !== undefined &&
                Math.sign(Number(e.details.step_ms)) === Math.sign(stepMs) &&
                selfEvents('clock_step').length >= (stepMs < 0 ? 1 : 2),
            ),
          {
            timeoutMs: 6000,
            message: `clock_step ${spec}`,
          },
        );
        expect(Math.abs(Number(step.details?.step_ms) - stepMs)).toBeLessThan(2000);
        // after the step: both endpoints checked every second, slots named by the new wall time
        await new Promise((r) => setTimeout(r, 4500));
        const shift = stepMs < 0 ? -3600_000 : 0;
        const since = target.hitLog.filter(
          (h) => h.path.startsWith('/count/') && h.at >= wrote + 2500 && h.slot !== null,
        );
        expect(since.length).toBeGreaterThanOrEqual(2 * 3);
        for (const h of since) expect(Math.abs(h.slot! - (h.at + shift))).toBeLessThan(1500);
      }
    },
    60_000,
  );
});
