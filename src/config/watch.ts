import { type FSWatcher, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { type Clock, systemClock, type TimerHandle } from '../model/clock.js';
import { CFG } from './codes.js';
import { assemble, type FileEntry, type LoadOptions, listConfigFiles, readConfigFiles } from './load.js';
import { problem, WHOLE_FILE } from './problems.js';
import type { ConfigProblem, ConfigSnapshot } from './types.js';

/**
 * Watch a folder of endpoint files. A change (add, edit, remove, rename) is seen through fs.watch
 * and, because fs.watch can miss events (network volumes, ConfigMap symlink swaps), through a
 * cheap periodic rescan that only stats files. Either way the change is debounced, then every file
 * is read and only those whose sha256 changed are parsed again. A new snapshot is emitted only when
 * the set of files or their contents changed.
 */

export interface WatchOptions extends LoadOptions {
  /** quiet time after the last event before reloading (default 150 ms) */
  debounceMs?: number;
  /** longest wait under a continuous stream of events (default 500 ms) */
  maxWaitMs?: number;
  /** period of the stat-only rescan; 0 disables it (default 700 ms) */
  rescanMs?: number;
  /** use fs.watch (default true); the rescan alone also works, just slower */
  useFsWatch?: boolean;
  clock?: Clock;
  /** called after each full reload with whether it produced a new snapshot (tests, metrics) */
  onReload?: (emitted: boolean) => void;
}

export interface ConfigWatcher {
  /** the current snapshot first (once there is one), then each new one; a slow reader gets the latest only */
  snapshots: AsyncIterable<ConfigSnapshot>;
  /** resolves with the first snapshot */
  ready: Promise<ConfigSnapshot>;
  current(): ConfigSnapshot | null;
  /** called with each new snapshot (not the current one); returns an unsubscribe function */
  onSnapshot(fn: (snapshot: ConfigSnapshot) => void): () => void;
  close(): Promise<void>;
}

interface Subscriber {
  pending: ConfigSnapshot | null;
  waiter: ((r: IteratorResult<ConfigSnapshot>) => void) | null;
}

async function statSignature(file: string): Promise<string> {
  try {
    const s = await stat(file);
    return `${s.size}:${s.mtimeMs}:${s.ctimeMs}:${s.ino}`;
  } catch {
    return 'missing';
  }
}

export function watchDir(dir: string, opts: WatchOptions = {}): ConfigWatcher {
  const clock = opts.clock ?? systemClock;
  const debounceMs = opts.debounceMs ?? 150;
  const maxWaitMs = opts.maxWaitMs ?? 500;
  const rescanMs = opts.rescanMs ?? 700;
  const useFsWatch = opts.useFsWatch ?? true;

  let closed = false;
  let current: ConfigSnapshot | null = null;
  let cache = new Map<string, FileEntry>();
  let sigs = new Map<string, string>();
  let lastKey: string | null = null;
  let dirFailed = false;
  /** some file could not be read (EMFILE, EACCES, EIO): every rescan reads again */
  let readFailed = false;
  let fsw: FSWatcher | null = null;
  let debounce: TimerHandle | null = null;
  let firstEventAt = 0;
  let rescanTimer: TimerHandle | null = null;
  let running: Promise<void> | null = null;
  let again = false;
  const listeners = new Set<(s: ConfigSnapshot) => void>();
  const subs = new Set<Subscriber>();
  let resolveReady!: (s: ConfigSnapshot) => void;
  const ready = new Promise<ConfigSnapshot>((r) => {
    resolveReady = r;
  });

  function emit(s: ConfigSnapshot): void {
    current = s;
    resolveReady(s);
    for (const sub of subs) {
      if (sub.waiter) {
        const w = sub.waiter;
        sub.waiter = null;
        w({ value: s, done: false });
      } else sub.pending = s;
    }
    for (const fn of listeners) {
      try {
        fn(s);
      } catch {
        // a listener's failure is its own business
      }
    }
  }

  async function scanOnce(): Promise<void> {
    let files: string[] = [];
    let dirProblem: ConfigProblem | null = null;
    try {
      files = await listConfigFiles(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      dirProblem = problem(dir, WHOLE_FILE, CFG.READ, `cannot read folder (${code})`);
    }
    // Stat before reading: a write that lands during the read shows up as a changed signature.
    const newSigs = new Map<string, string>();
    for (const f of files) newSigs.set(f, await statSignature(f));
    // An unreadable folder (EMFILE, EACCES, deleted, a network filesystem hiccup) says nothing
    // about its files: the last good read stays, next to the folder's problem, until it reads again.
    const entries = dirProblem ? [...cache.values()] : await readConfigFiles(files, opts, cache);
    if (closed) return;
    cache = new Map(entries.map((e) => [e.file, e]));
    if (!dirProblem) sigs = newSigs;
    dirFailed = dirProblem !== null;
    readFailed = entries.some((e) => e.checksum === '' && e.parsed.problems.some((p) => p.code === CFG.READ));
    ensureFsWatch();
    const key = `${dirProblem?.message ?? ''}\n${entries.map((e) => `${e.file}\u0000${e.checksum}`).join('\n')}`;
    const changed = key !== lastKey;
    if (changed) {
      lastKey = key;
      emit(assemble(entries, dirProblem ? [dirProblem] : []));
    }
    opts.onReload?.(changed);
  }

  function requestScan(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await scanOnce();
        } while (again && !closed);
      } finally {
        running = null;
      }
    })();
    return running;
  }

  function trigger(): void {
    if (closed) return;
    const now = clock.now();
    if (debounce) {
      if (now - firstEventAt >= maxWaitMs) return; // already due soon enough; let it fire
      clock.clearTimeout(debounce);
    } else {
      firstEventAt = now;
    }
    const wait = Math.min(debounceMs, Math.max(0, firstEventAt + maxWaitMs - now));
    debounce = clock.setTimeout(() => {
      debounce = null;
      void requestScan().catch(() => {});
    }, wait);
  }

  function ensureFsWatch(): void {
    if (!useFsWatch || fsw || closed) return;
    try {
      fsw = watch(dir, { persistent: false }, () => trigger());
      fsw.on('error', () => {
        fsw?.close();
        fsw = null; // the rescan keeps working; the next scan tries fs.watch again
        trigger();
      });
    } catch {
      fsw = null;
    }
  }

  async function rescan(): Promise<void> {
    let files: string[] = [];
    let failed = false;
    try {
      files = await listConfigFiles(dir);
    } catch {
      failed = true;
    }
    let changed = failed !== dirFailed || readFailed || (!failed && files.length !== sigs.size);
    if (!changed) {
      for (const f of files) {
        if (sigs.get(f) !== (await statSignature(f))) {
          changed = true;
          break;
        }
      }
    }
    if (changed) trigger();
  }

  function scheduleRescan(): void {
    if (closed || rescanMs <= 0) return;
    rescanTimer = clock.setTimeout(() => {
      rescanTimer = null;
      if (running || debounce) return scheduleRescan();
      void rescan()
        .catch(() => {})
        .finally(scheduleRescan);
    }, rescanMs);
  }

  ensureFsWatch();
  void requestScan().catch(() => {});
  scheduleRescan();

  return {
    snapshots: {
      [Symbol.asyncIterator](): AsyncIterator<ConfigSnapshot> {
        const sub: Subscriber = { pending: current, waiter: null };
        subs.add(sub);
        return {
          next() {
            if (sub.pending) {
              const value = sub.pending;
              sub.pending = null;
              return Promise.resolve({ value, done: false });
            }
            if (closed) return Promise.resolve({ value: undefined, done: true });
            return new Promise((r) => {
              sub.waiter = r;
            });
          },
          return() {
            subs.delete(sub);
            sub.waiter?.({ value: undefined, done: true });
            sub.waiter = null;
            return Promise.resolve({ value: undefined, done: true });
          },
        };
      },
    },
    ready,
    current: () => current,
    onSnapshot(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (debounce) clock.clearTimeout(debounce);
      if (rescanTimer) clock.clearTimeout(rescanTimer);
      fsw?.close();
      fsw = null;
      await running?.catch(() => {});
      for (const sub of subs) {
        sub.waiter?.({ value: undefined, done: true });
        sub.waiter = null;
      }
      subs.clear();
      listeners.clear();
    },
  };
}
