/**
 * spawnLogged / spawnWorker: output captured to a file and a parsed ring buffer, log waits,
 * SIGSTOP/SIGCONT, graceful stop with a deadline, kill, and teardown of everything spawned.
 * spawnWorker runs a stand-in script (the real `watcher run` is built elsewhere) with the same flags.
 */

import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePorts,
  killAllSpawned,
  liveProcessCount,
  spawnLogged,
  spawnWorker,
} from '../support/processes.js';
import { waitFor } from '../support/wait.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'watcher-proc-test-'));
});
afterAll(async () => {
  await killAllSpawned();
  await rm(dir, { recursive: true, force: true });
});

/** A process that logs a JSON line every 50 ms, one stderr line, and exits 0 on SIGTERM. */
const TICKER = `
let n = 0;
process.stderr.write('plain stderr line\\n');
const t = setInterval(() => process.stdout.write(JSON.stringify({ msg: 'tick', n: n++ }) + '\\n'), 50);
process.on('SIGTERM', () => { clearInterval(t); process.stdout.write(JSON.stringify({ msg: 'bye' }) + '\\n'); process.exit(0); });
`;

function procState(pid: number): string {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] ?? '?';
}

describe('spawnLogged', () => {
  it('captures stdout/stderr to its log file and parses JSON lines', async () => {
    const p = spawnLogged(process.execPath, ['-e', TICKER], { name: 'ticker', logDir: dir });
    const line = await p.waitForLine((l) => l.json?.n === 3, 5000);
    expect(line.stream).toBe('stdout');
    await p.waitForLine((l) => l.stream === 'stderr' && l.text === 'plain stderr line', 2000);
    expect(p.lines().filter((l) => l.json?.msg === 'tick').length).toBeGreaterThanOrEqual(4);
    const info = await p.stop(5000);
    expect(info).toEqual({ code: 0, signal: null });
    const file = await readFile(p.logFile, 'utf8');
    expect(file).toContain('"msg":"bye"');
    expect(file).toContain('[stderr] plain stderr line');
  });

  it('pause() freezes the process (state T, no output) and resume() continues it', async () => {
    const p = spawnLogged(process.execPath, ['-e', TICKER], { name: 'pausable', logDir: dir });
    await p.waitForLine((l) => l.json?.n === 1, 5000);
    p.pause();
    await waitFor(() => procState(p.pid) === 'T', { timeoutMs: 2000, message: 'state T after SIGSTOP' });
    const frozenAt = p.lines().length;
    // A twin ticker that runs on is the clock: while it prints 4 ticks, the stopped one prints none.
    const twin = spawnLogged(process.execPath, ['-e', TICKER], { name: 'twin', logDir: dir });
    await twin.waitForLine((l) => l.json?.n === 4, 5000);
    twin.kill();
    expect(procState(p.pid)).toBe('T');
    const seen = p.lines().length;
    expect(seen - frozenAt).toBeLessThanOrEqual(1); // at most one line already in the pipe
    p.resume();
    await p.waitForLine((l) => l.json?.msg === 'tick' && p.lines().indexOf(l) >= seen, 5000);
    p.kill();
    expect(await p.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('stop() escalates to SIGKILL and rejects when SIGTERM is ignored', async () => {
    const p = spawnLogged(
      process.execPath,
      ['-e', "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000);"],
      { name: 'stubborn', logDir: dir },
    );
    await p.waitForLine((l) => l.text === 'ready', 5000);
    await expect(p.stop(300)).rejects.toThrow(/did not exit within 300 ms/);
    expect(p.exitInfo()).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('waitForLine rejects with the output tail when the process exits first', async () => {
    const p = spawnLogged(process.execPath, ['-e', "console.log('only line'); process.exit(3)"], {
      name: 'short',
      logDir: dir,
    });
    await expect(p.waitForLine((l) => l.text === 'never', 5000)).rejects.toThrow(/code 3[\s\S]*only line/);
  });

  it('killAllSpawned kills every live child', async () => {
    const a = spawnLogged(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
      name: 'a',
      logDir: dir,
    });
    const b = spawnLogged('sleep', ['30'], { name: 'b', logDir: dir, capture: 'file' });
    expect(liveProcessCount()).toBeGreaterThanOrEqual(2);
    await killAllSpawned();
    expect(a.exitInfo()?.signal).toBe('SIGKILL');
    expect(b.exitInfo()?.signal).toBe('SIGKILL');
    expect(liveProcessCount()).toBe(0);
  });
});

/** Stand-in for `watcher run`: echoes its flags in a pino-like line and serves /healthz. */
const FAKE_WORKER = `
import http from 'node:http';
const a = process.argv.slice(2);
const flag = (f) => a[a.indexOf(f) + 1];
const [host, port] = flag('--listen').split(':');
http.createServer((req, res) => {
  res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id: flag('--id'), path: req.url }));
}).listen(Number(port), host, () => {
  process.stdout.write(JSON.stringify({ level: 30, msg: 'listening', id: flag('--id'), argv: a }) + '\\n');
});
process.on('SIGTERM', () => process.exit(0));
`;

describe('spawnWorker', () => {
  it('starts `run` with the cluster flags, exposes logs and the status server', async () => {
    const main = join(dir, 'fake-worker.mjs');
    await writeFile(main, FAKE_WORKER);
    const [port] = await freePorts(1);
    const w = await spawnWorker({
      id: 'w1',
      etcd: ['http://127.0.0.1:1', 'http://127.0.0.1:2'],
      endpointsDir: dir,
      listen: `127.0.0.1:${port}`,
      leaseTtl: 2,
      resultsFile: join(dir, 'results.jsonl'),
      extraArgs: ['--on-partition', 'pause'],
      main,
      logDir: dir,
    });
    await w.waitReady(5000);
    const rec = await w.waitForLog((r) => r.msg === 'listening', 2000);
    expect(rec.argv).toEqual([
      'run',
      '--id',
      'w1',
      '--endpoints-dir',
      dir,
      '--listen',
      `127.0.0.1:${port}`,
      '--etcd',
      'http://127.0.0.1:1,http://127.0.0.1:2',
      '--lease-ttl',
      '2',
      '--results-file',
      join(dir, 'results.jsonl'),
      '--log-level',
      'debug',
      '--on-partition',
      'pause',
    ]);
    const res = await w.http('/status');
    expect(res.status).toBe(404);
    expect(res.json<{ id: string }>().id).toBe('w1');
    expect(w.logs().length).toBeGreaterThanOrEqual(1);
    expect(await w.stop(5000)).toEqual({ code: 0, signal: null });
  });

  it('fails clearly when the worker script is missing', async () => {
    await expect(
      spawnWorker({ id: 'x', etcd: [], endpointsDir: dir, main: join(dir, 'missing.js') }),
    ).rejects.toThrow(/missing\.js is missing: run 'npm run build'/);
  });
});
