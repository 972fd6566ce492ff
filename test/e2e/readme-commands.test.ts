/**
 * README.md's two commands, run in a fresh clone of this repository's HEAD (issue 17): they must
 * be exactly `npm ci && npm start` and `bash .ci/run`, the first must bring up a standalone
 * worker whose status server answers, the second must pass and print its summary line. The
 * second runs with WATCHER_CI_TESTS naming one small test file (the whole suite inside the suite
 * would double CI's time); every other step of .ci/run runs for real. Skipped in .ci/run's
 * second (Node 24) run, which sets WATCHER_SKIP_FRESH_CLONE.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, REPO_ROOT } from '../support/processes.js';
import { waitFor } from '../support/wait.js';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const SKIP = Boolean(process.env.WATCHER_SKIP_FRESH_CLONE);

/** Command lines of the ```sh block under "## The two commands", comments stripped. */
function twoCommands(): string[] {
  const section = README.slice(README.indexOf('## The two commands'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .map((l) => l.replace(/\s+#\s.*$/, '').trim())
    .filter(Boolean);
}

let clone: string;

/** Runs `line` with bash in the clone; resolves with exit code and output (bounded). */
function bash(line: string, env: Record<string, string>, timeoutMs: number, onSpawn?: (pid: number) => void) {
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn('bash', ['-c', line], {
      cwd: clone,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    const keep = (b: Buffer) => {
      out = (out + b.toString()).slice(-200_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    if (child.pid !== undefined) onSpawn?.(child.pid);
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

beforeAll(async () => {
  if (SKIP) return;
  clone = await mkdtemp(join(tmpdir(), 'watcher-fresh-clone-'));
  const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  execFileSync('git', ['clone', '--quiet', '--no-checkout', REPO_ROOT, clone], { timeout: 120_000 });
  execFileSync('git', ['checkout', '--quiet', head], { cwd: clone, timeout: 60_000 });
  // the Node 24 binary .ci/run would fetch from the npm registry: reuse this run's copy if any
  const node24 = join(REPO_ROOT, '.tmp/node24');
  if (existsSync(join(node24, 'bin/node'))) cpSync(node24, join(clone, '.tmp/node24'), { recursive: true });
}, 180_000);

afterAll(async () => {
  if (clone) await rm(clone, { recursive: true, force: true });
});

describe.skipIf(SKIP)("README's two commands in a fresh clone", () => {
  it('are `npm ci && npm start` and `bash .ci/run`', () => {
    expect(twoCommands()).toEqual(['npm ci && npm start', 'bash .ci/run']);
  });

  it('`npm ci && npm start` brings up a standalone worker on ./endpoints.d', async () => {
    const port = await freePort();
    let pid = 0;
    const done = bash(twoCommands()[0]!, { WATCHER_LISTEN: `127.0.0.1:${port}` }, 300_000, (p) => {
      pid = p;
    });
    try {
      await waitFor(
        async () => {
          const r = await fetch(`http://127.0.0.1:${port}/readyz`, {
            signal: AbortSignal.timeout(1000),
          }).catch(() => null);
          return r?.status === 200;
        },
        { timeoutMs: 240_000, intervalMs: 1000, message: 'the fresh clone’s worker ready' },
      );
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toContain('watcher_jobs_owned 3'); // the three examples of endpoints.d/local.yml
    } finally {
      if (pid) process.kill(-pid, 'SIGTERM');
      const r = await done;
      expect(r.out).not.toMatch(/npm (ERR|error)/);
    }
  }, 300_000);

  it('`bash .ci/run` passes and ends with the summary line', async () => {
    const r = await bash(
      twoCommands()[1]!,
      { CI: 'true', WATCHER_CI_TESTS: 'test/config/units.test.ts' },
      540_000,
    );
    const last = r.out.trim().split('\n').at(-1) ?? '';
    expect(r.code, r.out.slice(-4000)).toBe(0);
    expect(last).toMatch(/^tests: [1-9]\d* passed, 0 failed, \d+ skipped$/);
    expect(r.out).toMatch(/=== test suite on Node v24\.\d+\.\d+ \(registry\) ===/);
  }, 600_000);
});
