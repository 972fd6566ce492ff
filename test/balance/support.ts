/**
 * Helpers for the load-spreading tests: endpoint folders that point at a counting target, worker
 * processes on a shared etcd, /metrics readers, and the exact per-(endpoint, slot) accounting of
 * the target's hit log.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeOnExit, spawnWorker, type WorkerProcess } from '../support/processes.js';
import type { Target } from '../support/target.js';

export interface Folder {
  dir: string;
  /** target paths of the endpoints, e.g. /count/b00 */
  paths: string[];
}

/**
 * A folder with `n` endpoints `127.0.0.1:PORT/count/<prefix>NN` every `interval`, and optionally a
 * `self` block posting the workers' own events to `hook`.
 */
export function endpointsFolder(
  target: Target,
  n: number,
  opts: { prefix: string; interval?: string; hook?: string },
): Folder {
  const dir = mkdtempSync(join(tmpdir(), 'watcher-balance-'));
  removeOnExit(dir);
  const paths = Array.from({ length: n }, (_, i) => `/count/${opts.prefix}${String(i).padStart(2, '0')}`);
  const lines = ['defaults:', '  scheme: http', '  timeout: 500ms'];
  if (opts.hook) lines.push('self:', `  post_endpoint: ${opts.hook}`);
  for (const p of paths) lines.push(`127.0.0.1:${target.port}${p}:`, `  interval: ${opts.interval ?? '1s'}`);
  writeFileSync(join(dir, 'endpoints.yml'), `${lines.join('\n')}\n`);
  return { dir, paths };
}

export interface BalanceWorkerOptions {
  id: string;
  etcd: string[];
  folder: Folder;
  cluster: string;
  leaseTtl?: number;
  extraArgs?: string[];
  env?: Record<string, string>;
}

export interface BalanceWorker extends WorkerProcess {
  resultsFile: string;
}

export async function startWorker(o: BalanceWorkerOptions): Promise<BalanceWorker> {
  const resultsFile = join(o.folder.dir, `results-${o.id}.jsonl`);
  const w = await spawnWorker({
    id: o.id,
    etcd: o.etcd,
    endpointsDir: o.folder.dir,
    leaseTtl: o.leaseTtl ?? 3,
    resultsFile,
    logLevel: 'info',
    extraArgs: ['--cluster', o.cluster, '--threads', '1', ...(o.extraArgs ?? [])],
    env: o.env,
  });
  await w.waitReady(20_000, '/readyz');
  return Object.assign(w, { resultsFile });
}

/** Value of an unlabelled gauge in a worker's /metrics (NaN when absent or unreachable). */
export async function metric(w: WorkerProcess, name: string): Promise<number> {
  try {
    const res = await w.http('/metrics');
    const m = new RegExp(`^${name} ([-0-9.eE+]+|NaN)$`, 'm').exec(res.body);
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

export const owned = (w: WorkerProcess): Promise<number> => metric(w, 'watcher_jobs_owned');

export interface SlotReport {
  /** slots checked in the window */
  slots: number;
  /** `path@slot` that fell due in the window and got no check */
  missed: string[];
  /** `path@slot ×n` checked more than once */
  duplicated: string[];
}

/**
 * Exact accounting over [from, to] (epoch ms): every endpoint's slots lie on one grid
 * (phase + k × interval, learnt from its hits); each grid slot in the window must have been checked
 * exactly once (the slot is the `x-watcher-scheduled-at` header).
 */
export function slotReport(
  target: Target,
  paths: string[],
  from: number,
  to: number,
  everyMs = 1000,
): SlotReport {
  const byPath = new Map<string, Map<number, number>>();
  for (const h of target.hitLog) {
    if (h.slot === null) continue;
    let m = byPath.get(h.path);
    if (!m) {
      m = new Map();
      byPath.set(h.path, m);
    }
    m.set(h.slot, (m.get(h.slot) ?? 0) + 1);
  }
  const out: SlotReport = { slots: 0, missed: [], duplicated: [] };
  for (const p of paths) {
    const counts = byPath.get(p);
    const any = counts ? [...counts.keys()][0] : undefined;
    if (!counts || any === undefined) {
      out.missed.push(`${p}@never`);
      continue;
    }
    const phase = ((any % everyMs) + everyMs) % everyMs;
    for (let s = Math.ceil((from - phase) / everyMs) * everyMs + phase; s <= to; s += everyMs) {
      out.slots++;
      const n = counts.get(s) ?? 0;
      if (n === 0) out.missed.push(`${p}@${s}`);
      else if (n > 1) out.duplicated.push(`${p}@${s} ×${n}`);
    }
  }
  return out;
}

export interface ResultLine {
  endpoint: string;
  scheduled_at: number;
  started_at: number;
  worker: string;
}

export function readResults(file: string): ResultLine[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: ResultLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as ResultLine);
    } catch {
      // a line being written
    }
  }
  return out;
}
