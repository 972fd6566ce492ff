/**
 * Child processes for tests: spawned with their output in log files (and, for piped output, a ring
 * buffer of recent lines parsed as JSON when they are JSON), tracked so that none outlives the test
 * process: `killAllSpawned()` on teardown, a synchronous SIGKILL in process.on('exit'), and a tiny
 * detached reaper that kills the rest if the test process itself is SIGKILLed.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  closeSync,
  createWriteStream,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LogLine {
  stream: 'stdout' | 'stderr';
  text: string;
  /** The line parsed as a JSON object, when it is one (pino logs are). */
  json?: Record<string, unknown>;
  /** Epoch ms when the test process read the line. */
  at: number;
}

export interface SpawnLoggedOptions {
  /** Label used in file names and error messages [basename of cmd]. */
  name?: string;
  cwd?: string;
  /** Added to (not replacing) process.env. */
  env?: Record<string, string>;
  /** Folder for `<name>.log` [a per-test-process temp folder, removed on exit]. */
  logDir?: string;
  /**
   * 'pipe' [default]: output goes through the test process (ring buffer, waitForLine) and into the
   * log file. 'file': the child writes straight to the log file (no ring buffer; nothing is lost if
   * the test process stalls) — used for etcd.
   */
  capture?: 'pipe' | 'file';
  /** Lines kept in the ring buffer [2000]. */
  ringSize?: number;
}

export interface LoggedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** Set once exited. */
  exitInfo(): ExitInfo | undefined;
  /** Recent lines, oldest first (empty with capture 'file'). */
  lines(): LogLine[];
  /**
   * Resolves with the first line (already seen or future) matching `predicate`; rejects on deadline
   * or when the process's output closes without a match (the error includes the last lines).
   */
  waitForLine(predicate: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine>;
  /** Last `n` lines of output, for error messages. */
  tail(n?: number): string;
  /** Sends a signal (default SIGKILL); no-op once exited. */
  kill(signal?: NodeJS.Signals): void;
  /** SIGSTOP: the process freezes (sockets stay open, nothing is answered). */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** SIGTERM, then wait for exit; after `timeoutMs` [10 s] SIGKILL and reject. */
  stop(timeoutMs?: number): Promise<ExitInfo>;
}

const live = new Map<number, LoggedProcess>();
const tempDirs = new Set<string>();
let defaultLogDir: string | undefined;

export function spawnLogged(cmd: string, args: string[], opts: SpawnLoggedOptions = {}): LoggedProcess {
  const name = opts.name ?? cmd.split('/').pop() ?? cmd;
  const logDir = opts.logDir ?? sharedLogDir();
  const logFile = join(logDir, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.log`);
  const capture = opts.capture ?? 'pipe';
  const ringSize = opts.ringSize ?? 2000;
  const env = { ...process.env, ...opts.env };

  let child: ChildProcess;
  let file: ReturnType<typeof createWriteStream> | undefined;
  if (capture === 'file') {
    // Appending: a restarted member keeps one log with every incarnation.
    const fd = openAppend(logFile);
    try {
      child = spawn(cmd, args, { cwd: opts.cwd, env, stdio: ['ignore', fd, fd] });
    } finally {
      closeFd(fd);
    }
  } else {
    file = createWriteStream(logFile, { flags: 'a' });
    child = spawn(cmd, args, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  }
  const pid = child.pid;
  if (pid === undefined) {
    // spawn failures (ENOENT) are reported asynchronously; make them synchronous and clear.
    throw new Error(`spawn ${cmd} failed (is it installed and executable?)`);
  }

  const ring: LogLine[] = [];
  const listeners = new Set<(line: LogLine) => void>();
  let outputClosed = false;
  const closeListeners = new Set<() => void>();
  const push = (stream: LogLine['stream'], text: string): void => {
    const line: LogLine = { stream, text, at: Date.now() };
    if (text.startsWith('{')) {
      try {
        const parsed: unknown = JSON.parse(text);
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
          line.json = parsed as Record<string, unknown>;
        }
      } catch {
        // not JSON: kept as text
      }
    }
    ring.push(line);
    if (ring.length > ringSize) ring.shift();
    for (const l of listeners) l(line);
  };
  if (capture === 'pipe' && child.stdout && child.stderr && file) {
    const f = file;
    let openStreams = 2;
    for (const [stream, readable] of [
      ['stdout', child.stdout],
      ['stderr', child.stderr],
    ] as const) {
      let partial = '';
      readable.setEncoding('utf8');
      readable.on('data', (chunk: string) => {
        f.write(stream === 'stderr' ? prefixLines(chunk, partial === '') : chunk);
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const p of parts) push(stream, p);
      });
      readable.on('close', () => {
        if (partial) push(stream, partial);
        partial = '';
        if (--openStreams === 0) {
          outputClosed = true;
          f.end();
          for (const l of closeListeners) l();
        }
      });
    }
  } else {
    outputClosed = true;
  }

  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      live.delete(pid);
      writePidFile();
      resolve(exitInfo);
    });
  });
  child.on('error', () => {
    // spawn/kill errors surface through `exited`/pid checks; an unhandled 'error' would crash the run.
  });

  const tail = (n = 40): string => {
    if (capture === 'pipe')
      return ring
        .slice(-n)
        .map((l) => l.text)
        .join('\n');
    return readTail(logFile, n);
  };

  const signal = (sig: NodeJS.Signals): void => {
    if (exitInfo) return;
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };

  const proc: LoggedProcess = {
    name,
    pid,
    child,
    logFile,
    exited,
    exitInfo: () => exitInfo,
    lines: () => ring.slice(),
    tail,
    kill: (sig = 'SIGKILL') => signal(sig),
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    async stop(timeoutMs = 10_000) {
      if (exitInfo) return exitInfo;
      signal('SIGCONT'); // a stopped process would never handle SIGTERM
      signal('SIGTERM');
      const info = await Promise.race([
        exited,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), timeoutMs).unref()),
      ]);
      if (info) return info;
      signal('SIGKILL');
      await exited;
      throw new Error(
        `${name} (pid ${pid}) did not exit within ${timeoutMs} ms of SIGTERM; killed.\n${tail()}`,
      );
    },
    waitForLine(predicate, timeoutMs) {
      const seen = ring.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise<LogLine>((resolve, reject) => {
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(onLine);
          closeListeners.delete(onClose);
        };
        const onLine = (line: LogLine): void => {
          let hit = false;
          try {
            hit = predicate(line);
          } catch {
            hit = false;
          }
          if (hit) {
            done();
            resolve(line);
          }
        };
        const onClose = (): void => {
          // Output can close just before the 'exit' event: wait for it to report the exit status.
          void exited.then((info) => {
            done();
            reject(new Error(`${name}: exited (${fmtExit(info)}) before the awaited line.\n${tail()}`));
          });
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name}: awaited log line not seen within ${timeoutMs} ms.\n${tail()}`));
        }, timeoutMs);
        listeners.add(onLine);
        if (outputClosed && capture === 'pipe') onClose();
        else closeListeners.add(onClose);
      });
    },
  };
  live.set(pid, proc);
  writePidFile();
  return proc;
}

/** SIGKILLs every process spawned here that is still running and waits for them to exit. */
export async function killAllSpawned(): Promise<void> {
  const procs = [...live.values()];
  for (const p of procs) p.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
}

/** Number of spawned processes still running (for tests of the teardown itself). */
export function liveProcessCount(): number {
  return live.size;
}

/** Registers a folder to delete when the test process exits. */
export function removeOnExit(dir: string): void {
  tempDirs.add(dir);
  writeDirFile();
}

/** `n` distinct free TCP ports on 127.0.0.1 (bound to port 0 together, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = [];
  try {
    while (servers.length < n) {
      const srv = createServer();
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve());
      });
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      // Never hand out the default etcd ports, whatever the OS range is.
      if (port === 2379 || port === 2380) {
        servers.push({ srv, port: 0 });
        continue;
      }
      servers.push({ srv, port });
    }
    return servers.filter((s) => s.port !== 0).map((s) => s.port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.srv.close(() => r()))));
  }
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

async function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A base port B such that B + each offset is free now (for scripts that derive ports from one
 * base, as cluster/lib.sh does), never touching 2379/2380.
 */
export async function freePortBase(offsets: readonly number[]): Promise<number> {
  const low = Math.min(...offsets);
  for (let attempt = 0; attempt < 30; attempt++) {
    const [p] = await freePorts(1);
    const base = p! - low;
    const ports = offsets.map((d) => base + d);
    if (ports.some((x) => x >= 65536 || x <= 1024 || x === 2379 || x === 2380)) continue;
    if ((await Promise.all(ports.map(canBind))).every(Boolean)) return base;
  }
  throw new Error(`no free port block for offsets ${offsets.join(',')}`);
}

// ---------------------------------------------------------------------------------------------
// Worker processes (`watcher run`)

export interface SpawnWorkerOptions {
  id: string;
  /** etcd client URLs; empty = standalone. */
  etcd: string[];
  endpointsDir: string;
  /** HOST:PORT for the status server [127.0.0.1:<free port>]. */
  listen?: string;
  leaseTtl?: number;
  resultsFile?: string;
  logLevel?: string;
  extraArgs?: string[];
  env?: Record<string, string>;
  logDir?: string;
  /** Script run by node instead of dist/cli/main.js (test doubles). */
  main?: string;
  /** Command the worker runs under, e.g. `['prlimit', '--nofile=200', '--']` or `['faketime', '-f', '+0']`. */
  wrap?: string[];
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: string;
  json<T = unknown>(): T;
}

export interface WorkerProcess extends LoggedProcess {
  readonly id: string;
  /** host:port of its status server. */
  readonly listen: string;
  readonly args: string[];
  /** First pino record (already logged or future) matching `predicate`. */
  waitForLog(
    predicate: (rec: Record<string, unknown>) => boolean,
    timeoutMs: number,
  ): Promise<Record<string, unknown>>;
  /** Recent pino records, oldest first. */
  logs(): Record<string, unknown>[];
  /** GET (or `init`) on its status server, 2 s deadline unless `init.signal` is given. */
  http(path: string, init?: RequestInit): Promise<HttpAnswer>;
  /** Polls GET /healthz until 200 (or `path`), with a deadline. */
  waitReady(timeoutMs: number, path?: string): Promise<void>;
}

/** Repository root (test/support/ → ../../). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const WATCHER_MAIN = join(REPO_ROOT, 'dist/cli/main.js');

export async function spawnWorker(opts: SpawnWorkerOptions): Promise<WorkerProcess> {
  const main = opts.main ?? WATCHER_MAIN;
  if (!existsSync(main)) {
    throw new Error(`${main} is missing: run 'npm run build' before the cluster tests`);
  }
  const listen = opts.listen ?? `127.0.0.1:${await freePort()}`;
  const args = [main, 'run', '--id', opts.id, '--endpoints-dir', opts.endpointsDir, '--listen', listen];
  if (opts.etcd.length > 0) args.push('--etcd', opts.etcd.join(','));
  if (opts.leaseTtl !== undefined) args.push('--lease-ttl', String(opts.leaseTtl));
  if (opts.resultsFile) args.push('--results-file', opts.resultsFile);
  args.push('--log-level', opts.logLevel ?? 'debug');
  args.push(...(opts.extraArgs ?? []));
  const [cmd, ...cmdArgs] = [...(opts.wrap ?? []), process.execPath, ...args];
  const proc = spawnLogged(cmd!, cmdArgs, {
    name: `worker-${opts.id}`,
    cwd: REPO_ROOT,
    env: opts.env,
    logDir: opts.logDir,
    capture: 'pipe',
  });
  const http = async (path: string, init: RequestInit = {}): Promise<HttpAnswer> => {
    const res = await fetch(`http://${listen}${path}`, { signal: AbortSignal.timeout(2000), ...init });
    const body = await res.text();
    return { status: res.status, headers: res.headers, body, json: <T>() => JSON.parse(body) as T };
  };
  return Object.assign(proc, {
    id: opts.id,
    listen,
    args,
    http,
    logs: () => proc.lines().flatMap((l) => (l.json ? [l.json] : [])),
    async waitForLog(predicate: (rec: Record<string, unknown>) => boolean, timeoutMs: number) {
      const line = await proc.waitForLine((l) => l.json !== undefined && predicate(l.json), timeoutMs);
      return line.json!;
    },
    async waitReady(timeoutMs: number, path = '/healthz') {
      await waitFor(
        async () => {
          if (proc.exitInfo()) throw new Error(`exited (${fmtExit(proc.exitInfo())})`);
          return (await http(path)).status === 200;
        },
        { timeoutMs, intervalMs: 200, message: `worker ${opts.id}: GET ${path} → 200` },
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n${proc.tail()}`);
      });
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Cleanup plumbing

function sharedLogDir(): string {
  if (!defaultLogDir) {
    defaultLogDir = mkdtempSync(join(tmpdir(), 'watcher-logs-'));
    if (!process.env.WATCHER_KEEP_TEST_LOGS) removeOnExit(defaultLogDir);
  }
  return defaultLogDir;
}

let reaperPidFile: string | undefined;

/**
 * The reaper is `bash` blocked reading a pipe from this process: when this process dies (even by
 * SIGKILL) the pipe reaches EOF and the reaper SIGKILLs the PIDs listed in the file. No polling.
 */
function ensureReaper(): string {
  if (reaperPidFile) return reaperPidFile;
  const file = join(tmpdir(), `watcher-test-reaper-${process.pid}.pids`);
  writeFileSync(file, '');
  writeFileSync(`${file}.dirs`, '');
  // $1 = PID file, $1.dirs = temp folders (only ones named $2/watcher-* are ever removed).
  const script = [
    'while read -r _; do :; done',
    'if [ -s "$1" ]; then kill -9 $(cat "$1") 2>/dev/null; fi',
    'if [ -f "$1.dirs" ]; then while IFS= read -r d; do case "$d" in "$2"/watcher-*) rm -rf -- "$d" ;; esac; done < "$1.dirs"; fi',
    'rm -f "$1" "$1.dirs"',
  ].join('\n');
  const reaper = spawn('bash', ['-c', script, 'reaper', file, tmpdir()], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  reaper.on('error', () => {});
  reaper.unref();
  (reaper.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  reaperPidFile = file;
  return file;
}

function writeDirFile(): void {
  try {
    writeFileSync(`${ensureReaper()}.dirs`, [...tempDirs].map((d) => `${d}\n`).join(''));
  } catch {
    // best effort
  }
}

function writePidFile(): void {
  try {
    writeFileSync(ensureReaper(), [...live.keys()].join(' '));
  } catch {
    // best effort: the exit handler still kills by PID
  }
}

process.on('exit', () => {
  for (const pid of live.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  live.clear();
  if (reaperPidFile) {
    rmSync(reaperPidFile, { force: true });
    rmSync(`${reaperPidFile}.dirs`, { force: true });
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Small helpers

function openAppend(path: string): number {
  return openSync(path, 'a');
}

function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // ignore
  }
}

function readTail(path: string, n: number): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text
      .split('\n')
      .slice(-n - 1)
      .join('\n');
  } catch {
    return `(no log at ${path})`;
  }
}

function prefixLines(chunk: string, atLineStart: boolean): string {
  // stderr lines are marked in the combined log file so that they stand out from JSON logs.
  const body = chunk.replace(/\n(?=.)/g, '\n[stderr] ');
  return atLineStart ? `[stderr] ${body}` : body;
}

export function fmtExit(info: ExitInfo | undefined): string {
  if (!info) return 'running';
  return info.signal ? `signal ${info.signal}` : `code ${info.code}`;
}
