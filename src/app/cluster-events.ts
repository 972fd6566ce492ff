/**
 * Cluster happenings an operator must hear about (admin changes, partitions, scaling limit, refused
 * writes, peer deaths) go to the log, the `self` sinks and the live stream; the admin also sends
 * the autoscaling signals.
 */
import type { EtcdCoordinator, ScalingEvent } from '../cluster/etcd/index.js';
import type { createLogger } from '../logging.js';
import type { systemClock } from '../model/clock.js';
import type { EventStream } from '../server/event-stream.js';
import type { createSinkHub, SelfEventKind } from '../sinks/index.js';

const CLUSTER_SIGNALS_INTERVAL_MS = 60_000;
const CLUSTER_SIGNALS_MIN_GAP_MS = 5000;

export interface ClusterHooks {
  /** the `self` sinks may have changed: the admin sends its signals to them at once */
  sinksConfigured(): void;
}

/** Cluster happenings an operator must hear about go to the `self` sinks and the live stream. */
export function wireClusterEvents(
  etcd: EtcdCoordinator,
  deps: {
    sinks: ReturnType<typeof createSinkHub>;
    logger: ReturnType<typeof createLogger>;
    events: EventStream;
    workerId: string;
    clock: typeof systemClock;
    cluster: string;
  },
): ClusterHooks {
  const { sinks, logger, events, workerId, clock } = deps;
  const announce = (kind: SelfEventKind, message: string, details?: Record<string, unknown>): void =>
    sinks.selfEvent({ kind, at: clock.now(), worker: workerId, message, ...(details ? { details } : {}) });
  // The admin alone sends the autoscaling signals to CloudWatch (self: post_service:
  // aws-cloudwatch): when elected, when they change (at most every 5 s), and once a minute
  // (CloudWatch's standard resolution) so that a steady value keeps its alarms fed.
  let signalTimer: NodeJS.Timeout | null = null;
  let changeTimer: NodeJS.Timeout | null = null;
  let lastSent = 0;
  let admin = false;
  const sendSignals = () => {
    lastSent = clock.now();
    sinks.clusterSignals(deps.cluster, etcd.scalingSignals(), lastSent);
  };
  etcd.on('signals', () => {
    if (!admin || changeTimer) return;
    const wait = Math.max(0, lastSent + CLUSTER_SIGNALS_MIN_GAP_MS - clock.now());
    changeTimer = setTimeout(() => {
      changeTimer = null;
      if (admin) sendSignals();
    }, wait);
    changeTimer.unref();
  });
  etcd.on('admin', (isAdmin) => {
    admin = isAdmin;
    if (signalTimer) clearInterval(signalTimer);
    signalTimer = null;
    if (isAdmin) {
      sendSignals();
      signalTimer = setInterval(sendSignals, CLUSTER_SIGNALS_INTERVAL_MS);
      signalTimer.unref();
    }
    logger.info(
      { admin: isAdmin },
      isAdmin ? 'this worker is now the admin' : 'this worker is no longer the admin',
    );
    events.publish('cluster', { admin: isAdmin ? workerId : null });
    if (isAdmin) {
      announce('admin_changed', `${workerId} is now the admin`);
    }
  });
  etcd.on('ownership', (change) => events.publish('ownership', change));
  etcd.on('partition', (p) => {
    logger.warn({ state: p.state, reason: p.reason }, `etcd ${p.state}`);
    events.publish('cluster', { partition: p.state });
  });
  etcd.on('scaling', (e) => {
    const message = e.active ? scalingHitMessage(e) : 'scaling limit resolved: the cluster keeps up again';
    if (e.active) logger.warn({ waiting: e.waitingJobs, stuck: e.stuckWorkers, since: e.since }, message);
    else logger.info({}, message);
    announce(e.active ? 'scaling_limit_hit' : 'scaling_limit_resolved', message, {
      waiting_jobs: e.waitingJobs,
      stuck_workers: e.stuckWorkers.join(','),
      since: e.since,
    });
    events.publish('cluster', { scaling: e });
  });
  etcd.on('peerDeath', (d) => events.publish('cluster', { peerDeath: d }));
  etcd.on('problem', (err) => logger.error({ code: err.code }, err.message));
  etcd.on('writes', (w) => {
    const message = w.refused
      ? `etcd refuses this worker's writes (${w.cause}, first refused: ${w.what}): alert states, claims and config changes are not saved until it accepts them; checks go on. ${w.remedy}`
      : "etcd accepts this worker's writes again; pending alert states and config are written";
    if (w.refused) logger.error({ cause: w.cause, err: w.error }, message);
    else logger.info({}, message);
    announce(w.refused ? 'etcd_write_refused' : 'etcd_write_ok', message, {
      cause: w.cause,
      remedy: w.remedy,
      what: w.what,
    });
    events.publish('cluster', { etcdWrites: w });
  });
  return {
    sinksConfigured: () => {
      if (admin) sendSignals();
    },
  };
}

function scalingHitMessage(e: ScalingEvent): string {
  const parts: string[] = [];
  if (e.waitingJobs > 0) parts.push(`${e.waitingJobs} jobs waiting with no worker to take them`);
  if (e.stuckWorkers.length > 0)
    parts.push(`overloaded with nobody to take the excess: ${e.stuckWorkers.join(', ')}`);
  return `scaling limit hit since ${new Date(e.since).toISOString()}: ${parts.join('; ')}`;
}
