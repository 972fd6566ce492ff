/**
 * The ConfirmGate of `watcher run` with what an operator must hear (`self` sinks, log, live
 * stream): a worker that fails checks others pass, and the endpoint it gives away.
 */
import type { Clock } from '../model/clock.js';
import type { Endpoint } from '../model/endpoint.js';
import type { Logger } from '../model/logger.js';
import type { CheckResult } from '../model/result.js';
import type { SelfEventKind } from '../sinks/types.js';
import { type Confirmer, ConfirmGate, DEFAULT_MOVE_AFTER } from './confirm-gate.js';
import type { CheckRunner } from './ports.js';

/** What the cluster offers (the etcd coordinator; absent standalone). */
export interface ConfirmCluster {
  createConfirmer(run: (ep: Endpoint) => Promise<CheckResult>): Confirmer & { start(): void; close(): void };
  moveAway(name: string): Promise<string | null>;
}

/** The gate for the engine, with the cluster's confirmer (null standalone: DOWN decided alone). */
export function createConfirmation(deps: {
  cluster: ConfirmCluster | null;
  runner: CheckRunner;
  clock: Clock;
  workerId: string;
  announce: (kind: SelfEventKind, message: string, details?: Record<string, unknown>) => void;
  publish: (type: 'worker', data: unknown) => void;
  logger: Logger;
}): { gate: ConfirmGate; start(): void; close(): void } {
  const { cluster, runner, clock } = deps;
  const confirmer =
    cluster?.createConfirmer(
      (spec) =>
        new Promise<CheckResult>((resolve, reject) => {
          runner.run([{ spec, scheduledAt: clock.now(), everyMs: 0 }], resolve).catch(reject);
        }),
    ) ?? null;
  const gate = createConfirmGate({
    ...deps,
    confirmer: () => confirmer,
    moveAway: cluster ? (name) => cluster.moveAway(name) : null,
  });
  return { gate, start: () => confirmer?.start(), close: () => confirmer?.close() };
}

export function createConfirmGate(deps: {
  workerId: string;
  confirmer: () => Confirmer | null;
  /** gives the endpoint (its jobset) to another worker; resolves the jobset moved, or null */
  moveAway: ((name: string) => Promise<string | null>) | null;
  announce: (kind: SelfEventKind, message: string, details?: Record<string, unknown>) => void;
  publish: (type: 'worker', data: unknown) => void;
  logger: Logger;
  moveAfter?: number;
}): ConfirmGate {
  const { workerId, logger } = deps;
  const moveAfter = deps.moveAfter ?? DEFAULT_MOVE_AFTER;
  const details = (e: Endpoint, r: CheckResult, by: string | null) => ({
    endpoint: e.name,
    url: e.url,
    error: r.error,
    passed_on: by,
  });
  return new ConfirmGate({
    confirmer: deps.confirmer,
    logger,
    moveAfter,
    onRefuted: (e, r, v, streak) => {
      const message = `worker ${workerId} cannot reach ${e.name} (${r.error ?? 'failed'}) but ${v.by} can: not DOWN, no alert (unconfirmed ${streak}/${moveAfter})`;
      logger.warn({ endpoint: e.name, error: r.error, by: v.by, streak }, message);
      deps.publish('worker', { id: workerId, unconfirmed: e.name, by: v.by, streak });
      // once per streak: the move (or its refusal) follows after `moveAfter`
      if (streak === 1) deps.announce('check_unconfirmed', message, { ...details(e, r, v.by), streak });
    },
    onMoveAway: (e, r, v) => {
      if (!deps.moveAway) return;
      deps.moveAway(e.name).then(
        (jobset) => {
          const message = jobset
            ? `worker ${workerId} cannot reach ${e.name} (${r.error ?? 'failed'}) while ${v.by} can: gave its jobset ${jobset} to another worker`
            : `worker ${workerId} cannot reach ${e.name} (${r.error ?? 'failed'}) while ${v.by} can, and no other worker can take it over: keeps it, alerts held`;
          logger.warn({ endpoint: e.name, jobset, by: v.by }, message);
          deps.announce('endpoint_moved_away', message, { ...details(e, r, v.by), jobset });
        },
        (err: unknown) => logger.warn({ err, endpoint: e.name }, 'could not give the endpoint away'),
      );
    },
  });
}
