import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every Prometheus metric of SPEC.md, on one registry created by the composition root.
 * Modules receive this object (or the few metrics they need); none creates metrics of its own.
 */
export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const r = [registry];
  return {
    registry,
    checksTotal: new Counter({
      name: 'watcher_checks_total',
      help: 'Checks run, by endpoint and result (success|failure)',
      labelNames: ['endpoint', 'result'] as const,
      registers: r,
    }),
    checkDuration: new Histogram({
      name: 'watcher_check_duration_seconds',
      help: 'Duration of checks',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    }),
    scheduleLag: new Histogram({
      name: 'watcher_schedule_lag_seconds',
      help: 'Check start time minus scheduled time',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: r,
    }),
    jobsOwned: new Gauge({ name: 'watcher_jobs_owned', help: 'Jobs this worker runs', registers: r }),
    jobsetsOwned: new Gauge({
      name: 'watcher_jobsets_owned',
      help: 'Jobsets this worker owns',
      registers: r,
    }),
    jobsWaiting: new Gauge({
      name: 'watcher_jobs_waiting',
      help: 'Jobs in the cluster waiting queue (no worker has room)',
      registers: r,
    }),
    spareCapacity: new Gauge({
      name: 'watcher_cluster_spare_capacity',
      help: 'Jobs the live workers could still take (sum of capacity - owned; -1 = unbounded)',
      registers: r,
    }),
    configErrors: new Counter({
      name: 'watcher_config_errors_total',
      help: 'Endpoint files found invalid, by file',
      labelNames: ['file'] as const,
      registers: r,
    }),
    sinkSent: new Counter({
      name: 'watcher_sink_sent_total',
      help: 'Items delivered by sink',
      labelNames: ['sink'] as const,
      registers: r,
    }),
    sinkDropped: new Counter({
      name: 'watcher_sink_dropped_total',
      help: 'Items dropped by sink (buffer full or permanent error)',
      labelNames: ['sink'] as const,
      registers: r,
    }),
    etcdUp: new Gauge({
      name: 'watcher_etcd_up',
      help: '1 while etcd is reachable and the lease is held',
      registers: r,
    }),
    claimsTotal: new Counter({
      name: 'watcher_claims_total',
      help: 'Jobset claim attempts by outcome (won|lost|error)',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    isAdmin: new Gauge({ name: 'watcher_is_admin', help: '1 on the elected admin worker', registers: r }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
