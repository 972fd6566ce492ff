/**
 * How many checks may be in flight at once, from the process's file-descriptor limit: every
 * in-flight check holds a socket, and a check that cannot get one fails with EMFILE — a local
 * fault that looks like a target outage. Past the budget checks queue in their thread (and run
 * late, which the overload machinery sees) instead of failing.
 */
import { readFileSync } from 'node:fs';

export interface FdLimit {
  soft: number;
  hard: number | null;
}

/** Descriptors kept for everything but checks: etcd, status server, logs, results file, threads' pipes. */
export function fdReserve(soft: number): number {
  return Math.min(Math.floor(soft / 2), 64 + Math.ceil(soft * 0.1));
}

/** Most concurrent checks in each thread (at least 8, at most 4096). */
export const MAX_PER_THREAD = 4096;

/** RLIMIT_NOFILE of this process (Linux: /proc/self/limits); null when it cannot be read. */
export function readFdLimit(path = '/proc/self/limits'): FdLimit | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return null;
  const soft = m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
  const hard = m[2] === 'unlimited' ? null : Number(m[2]);
  return Number.isFinite(soft) || soft === Number.POSITIVE_INFINITY ? { soft, hard } : null;
}

export interface InflightPlan {
  /** concurrent checks per thread */
  perThread: number;
  /** descriptors the checks may use in all (soft limit − reserve) */
  budget: number;
  limit: FdLimit | null;
}

/** Concurrent checks per thread so that `threads` × perThread stays within the fd budget. */
export function planInflight(limit: FdLimit | null, threads: number): InflightPlan {
  if (limit === null || !Number.isFinite(limit.soft)) {
    return { perThread: MAX_PER_THREAD, budget: Number.POSITIVE_INFINITY, limit };
  }
  const budget = Math.max(8, limit.soft - fdReserve(limit.soft));
  const perThread = Math.max(8, Math.min(MAX_PER_THREAD, Math.floor(budget / Math.max(1, threads))));
  return { perThread, budget, limit };
}
