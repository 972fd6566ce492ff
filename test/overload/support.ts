/**
 * Helpers for the overload tests: endpoint folders split in files (so that relief is a file
 * removal), a webhook double collecting `self` events, a worker's RSS, and lags at the target.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpDouble } from '../support/doubles/http-double.js';
import { removeOnExit } from '../support/processes.js';
import type { Target } from '../support/target.js';

/**
 * A worker made slow on purpose (test hooks, no CPU cost): each thread runs at most `slots`
 * checks at once, each holding its slot `costMs` → slots × 1000 / costMs checks/s per thread.
 */
export function slowEnv(slots: number, costMs: number): Record<string, string> {
  return {
    WATCHER_TEST_HOOKS: '1',
    WATCHER_TEST_CHECK_SLOTS: String(slots),
    WATCHER_TEST_CHECK_COST_MS: String(costMs),
  };
}

export interface OverloadFolder {
  dir: string;
  /** file name → target paths of its endpoints */
  files: Map<string, string[]>;
  /** delete a file (its endpoints are removed from the cluster) */
  remove(file: string): void;
}

/** `files` files of `perFile` endpoints each, every second, and a `self` block posting to `hook`. */
export function overloadFolder(target: Target, files: number, perFile: number, hook: string): OverloadFolder {
  const dir = mkdtempSync(join(tmpdir(), 'watcher-overload-'));
  removeOnExit(dir);
  writeFileSync(join(dir, 'self.yml'), `self:\n  post_endpoint: ${hook}\n`);
  const out = new Map<string, string[]>();
  for (let f = 0; f < files; f++) {
    const name = `part${f}.yml`;
    const paths = Array.from({ length: perFile }, (_, i) => `/count/f${f}e${String(i).padStart(4, '0')}`);
    const lines = ['defaults:', '  scheme: http', '  timeout: 2s', '  interval: 1s'];
    for (const p of paths) lines.push(`127.0.0.1:${target.port}${p}: {}`);
    writeFileSync(join(dir, name), `${lines.join('\n')}\n`);
    out.set(name, paths);
  }
  return {
    dir,
    files: out,
    remove: (file) => rmSync(join(dir, file), { force: true }),
  };
}

export interface SelfEventRecord {
  kind: string;
  worker: string;
  message: string;
  at: number;
  details?: Record<string, unknown>;
}

/** A webhook double that records the `self` events posted to it. */
export async function selfHook(): Promise<{
  url: string;
  events(kind?: string): SelfEventRecord[];
  close(): Promise<void>;
}> {
  const hook = await new HttpDouble(() => ({ status: 202 })).start();
  return {
    url: `${hook.url}/self`,
    events: (kind) =>
      hook.requests
        .map((r) => {
          try {
            const w = (JSON.parse(r.body.toString('utf8')) as { watcher?: SelfEventRecord }).watcher;
            return w ? { ...w, at: r.at } : null;
          } catch {
            return null;
          }
        })
        .filter((e): e is SelfEventRecord => e !== null && (kind === undefined || e.kind === kind)),
    close: () => hook.close(),
  };
}

/** Resident set size of a process, MB (from /proc). */
export function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** p99 of (arrival at the target − slot) over the checks of `paths` that arrived in [from, to). */
export function targetLagP99(target: Target, from: number, to: number, paths?: Set<string>): number | null {
  const lags: number[] = [];
  for (const h of target.hitLog) {
    if (h.slot === null || h.at < from || h.at >= to) continue;
    if (paths && !paths.has(h.path)) continue;
    lags.push(h.at - h.slot);
  }
  if (lags.length === 0) return null;
  lags.sort((a, b) => a - b);
  return lags[Math.min(lags.length - 1, Math.floor(lags.length * 0.99))] ?? null;
}
