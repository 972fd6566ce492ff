import { Counter, collectDefaultMetrics, Gauge, Histogram, type MetricValue, Registry } from 'prom-client';
import type { CheckResult } from './model/result.js';

/**
 * A Registry whose text output is byte-identical to prom-client's, but renders counters and
 * gauges itself: prom-client formats every series through several regex replaces, arrays and
 * joins; with 10,000 endpoints (20,000 `watcher_checks_total` series) one scrape cost 60-140 ms
 * of main thread. Histograms, OpenMetrics and default labels go through prom-client unchanged.
 */
export class WatcherRegistry extends Registry {
  private defaultLabels = false;
  private owned: ReadonlySet<string> | null = null;

  /**
   * Keeps only the series of endpoints in `owned` (see `retainEndpoints`), now and before every
   * scrape: a check that was in flight when its endpoint moved away cannot bring a series back.
   */
  retainEndpoints(owned: ReadonlySet<string>): void {
    this.owned = owned;
    retainEndpoints(this, owned);
  }

  override setDefaultLabels(labels: object): void {
    this.defaultLabels = Object.keys(labels).length > 0;
    super.setDefaultLabels(labels);
  }

  override async metrics(): Promise<string> {
    if (this.owned) retainEndpoints(this, this.owned);
    if (this.defaultLabels || this.contentType !== Registry.PROMETHEUS_CONTENT_TYPE) return super.metrics();
    const parts = await Promise.all(
      this.getMetricsAsArray().map((m) => {
        // prom-client types `type` as an enum; at run time it is the text ('counter', ...).
        const type = m.type as unknown as string;
        if (type !== 'counter' && type !== 'gauge') return this.getSingleMetricAsString(m.name);
        const metric = this.getSingleMetric(m.name);
        return metric ? metric.get().then(renderPlain) : this.getSingleMetricAsString(m.name);
      }),
    );
    return `${parts.join('\n\n')}\n`;
  }
}

const NEEDS_ESCAPE = /[\\\n"]/;

function escapeText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelValue(v: unknown): string {
  if (typeof v !== 'string') return String(v);
  return NEEDS_ESCAPE.test(v) ? escapeText(v).replace(/"/g, '\\"') : v;
}

function valueText(v: number): string {
  if (Number.isNaN(v)) return 'Nan';
  if (!Number.isFinite(v)) return v < 0 ? '-Inf' : '+Inf';
  return `${v}`;
}

/** prom-client's text format for a metric without metricName/sharedLabels/exemplars (counter, gauge). */
function renderPlain(m: {
  name: string;
  help: string;
  type: unknown;
  values: MetricValue<string>[];
}): string {
  const name = escapeText(m.name);
  let out = `# HELP ${name} ${escapeText(m.help)}\n# TYPE ${name} ${String(m.type)}`;
  for (const v of m.values) {
    let labels = '';
    for (const k in v.labels) {
      labels += `${labels === '' ? '' : ','}${k}="${labelValue(v.labels[k])}"`;
    }
    out += labels === '' ? `\n${name} ${valueText(v.value)}` : `\n${name}{${labels}} ${valueText(v.value)}`;
  }
  return out;
}

/**
 * prom-client's default metrics that are gauges named `*_total` (promtool: "non-counter metrics
 * should not have _total suffix"); each is the sum of the per-type gauge of the same name without
 * the suffix (`nodejs_active_handles{type}`, ...), so nothing is lost by leaving them out.
 */
const MISNAMED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** The label that ties a series to one endpoint: its series go when the worker stops owning it. */
const ENDPOINT_LABEL = 'endpoint';

/**
 * Every Prometheus metric of SPEC.md, on one registry created by the composition root.
 * Modules receive this object (or the few metrics they need); none creates metrics of its own.
 *
 * `cluster: false` (standalone) leaves the cluster metrics out of the registry: the objects exist
 * (modules may set them) but are not exported, so `watcher_etcd_up == 0` or "no spare capacity"
 * alerts cannot fire for a standalone worker. A new cluster-only metric registers on `c`.
 */
export function createMetrics(opts: { defaultMetrics?: boolean; cluster?: boolean } = {}) {
  const registry = new WatcherRegistry();
  if (opts.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry });
    for (const name of MISNAMED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  }
  const r = [registry];
  const c = opts.cluster === false ? [] : r;
  return {
    registry,
    /**
     * Removes every series labelled with an endpoint not in `owned` (all metrics with an
     * `endpoint` label, including ones added later): call it whenever the owned set changes.
     */
    retainEndpoints: (owned: ReadonlySet<string>): void => registry.retainEndpoints(owned),
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
      registers: c,
    }),
    jobsWaiting: new Gauge({
      name: 'watcher_jobs_waiting',
      help: 'Jobs in the cluster waiting queue (no worker has room)',
      registers: c,
    }),
    spareCapacity: new Gauge({
      name: 'watcher_cluster_spare_capacity',
      help: 'Jobs the live workers could still take (sum of capacity - owned; -1 = unbounded)',
      registers: c,
    }),
    workersNeeded: new Gauge({
      name: 'watcher_cluster_workers_needed',
      help: 'Workers the cluster needs: ceil(demanded checks/s / mean serviceable rate per worker) (docs/CLUSTER.md)',
      registers: c,
    }),
    checksSkipped: new Counter({
      name: 'watcher_checks_skipped_total',
      help: 'Scheduled slots not run, by reason (overlap: previous check still pending; behind: timer late; no_lease)',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    coverage: new Gauge({
      name: 'watcher_schedule_coverage_ratio',
      help: 'Slots run / slots due over the last minute (1 = every slot run)',
      registers: r,
    }),
    overloaded: new Gauge({
      name: 'watcher_overloaded',
      help: '1 while this worker is in an overload episode (jobs behind schedule, sustained)',
      registers: r,
    }),
    checksPending: new Gauge({
      name: 'watcher_checks_pending',
      help: 'Checks handed to the check threads and not finished (at most one per owned endpoint)',
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
      registers: c,
    }),
    claimsTotal: new Counter({
      name: 'watcher_claims_total',
      help: 'Jobset claim attempts by outcome (won|lost|error)',
      labelNames: ['outcome'] as const,
      registers: c,
    }),
    isAdmin: new Gauge({ name: 'watcher_is_admin', help: '1 on the elected admin worker', registers: c }),
    alertsHeld: new Counter({
      name: 'watcher_alerts_held_total',
      help: 'State changes not sent to sinks because of a maintenance window or an operator silence, by reason',
      labelNames: ['reason'] as const,
      registers: r,
    }),
    endpointInMaintenance: new Gauge({
      name: 'watcher_endpoint_in_maintenance',
      help: '1 while the latest check of the endpoint fell inside one of its maintenance windows (only endpoints that declare windows)',
      labelNames: ['endpoint'] as const,
      registers: r,
    }),
    checksLocalErrors: new Counter({
      name: 'watcher_checks_local_errors_total',
      help: 'Checks the worker itself could not carry out (not a target failure), by code (EMFILE, ...)',
      labelNames: ['code'] as const,
      registers: r,
    }),
    resultsFileDropped: new Counter({
      name: 'watcher_results_file_dropped_total',
      help: 'Result lines not written to --results-file (write errors, buffer full)',
      registers: r,
    }),
    peerRevocations: new Counter({
      name: 'watcher_peer_revocations_total',
      help: 'Leases of peers this worker saw die (stream dropped, port refusing) and revoked after releasing their jobsets',
      registers: c,
    }),
    etcdWriteErrors: new Counter({
      name: 'watcher_etcd_write_errors_total',
      help: 'etcd writes refused by etcd itself (e.g. NOSPACE), by cause',
      labelNames: ['cause'] as const,
      registers: c,
    }),
    ...probeMetrics(r),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** PhaseTimings field -> `phase` label of watcher_check_phase_seconds. */
const PHASES = { dns: 'dns', connect: 'connect', tls: 'tls', firstByte: 'first_byte' } as const;

/** Check phases and certificate expiry (issue 13): see observeProbeResult and forgetCertExpiry. */
function probeMetrics(r: Registry[]) {
  const checkPhase = new Histogram({
    name: 'watcher_check_phase_seconds',
    help: 'Phases of checks (dns, connect, tls, first_byte); a phase that did not happen (reused connection) is not observed',
    labelNames: ['phase'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: r,
  });
  return {
    checkPhase,
    // One child per phase: observing through labels() hashes the label set on every call.
    phaseChildren: {
      dns: checkPhase.labels({ phase: PHASES.dns }),
      connect: checkPhase.labels({ phase: PHASES.connect }),
      tls: checkPhase.labels({ phase: PHASES.tls }),
      firstByte: checkPhase.labels({ phase: PHASES.firstByte }),
    },
    tlsCertExpiry: new Gauge({
      name: 'watcher_tls_cert_expiry_seconds',
      help: "Seconds from the endpoint's latest check that read a peer certificate to that certificate's notAfter (negative once expired)",
      labelNames: ['endpoint'] as const,
      registers: r,
    }),
    /** endpoints with a watcher_tls_cert_expiry_seconds series */
    certEndpoints: new Set<string>(),
  };
}

/** Phase timings and certificate expiry of one result (the fan-out calls it per result). */
export function observeProbeResult(m: Metrics, r: CheckResult): void {
  const t = r.timings;
  if (t !== undefined) {
    const c = m.phaseChildren;
    if (t.dns !== undefined) c.dns.observe(t.dns / 1000);
    if (t.connect !== undefined) c.connect.observe(t.connect / 1000);
    if (t.tls !== undefined) c.tls.observe(t.tls / 1000);
    if (t.firstByte !== undefined) c.firstByte.observe(t.firstByte / 1000);
  }
  const notAfter = r.values.cert_not_after;
  if (notAfter !== undefined) {
    const at = Date.parse(notAfter);
    if (Number.isFinite(at)) {
      m.tlsCertExpiry.set({ endpoint: r.endpoint }, Math.round((at - r.started_at) / 1000));
      m.certEndpoints.add(r.endpoint);
    }
  }
}

/** Series of endpoints outside `owned`, removed from every metric that has an `endpoint` label. */
export function retainEndpoints(registry: Registry, owned: ReadonlySet<string>): void {
  for (const metric of registry.getMetricsAsArray()) {
    const m = metric as unknown as LabelledMetric;
    if (!m.labelNames?.includes(ENDPOINT_LABEL) || !m.hashMap) continue;
    for (const key of Object.keys(m.hashMap)) {
      const labels = m.hashMap[key]?.labels;
      const endpoint = labels?.[ENDPOINT_LABEL];
      if (labels && typeof endpoint === 'string' && !owned.has(endpoint)) m.remove(labels);
    }
  }
}

/** Removes an endpoint's certificate expiry series (the endpoint is gone or runs elsewhere now). */
export function forgetCertExpiry(m: Metrics, endpoint: string): void {
  if (!m.certEndpoints.delete(endpoint)) return;
  m.tlsCertExpiry.remove({ endpoint });
}

/** forgetCertExpiry for every endpoint with a series that is not in `keep` (the jobs this worker runs). */
export function retainCertExpiry(m: Metrics, keep: { has(endpoint: string): boolean }): void {
  for (const e of [...m.certEndpoints]) if (!keep.has(e)) forgetCertExpiry(m, e);
}

/**
 * The part of prom-client's Counter/Gauge/Histogram/Summary used above: `labelNames` and
 * `hashMap` (series by label hash; each entry has `labels`) are fields of its Metric base class
 * in 15.x, not in its typings; `remove(labels)` is public.
 */
interface LabelledMetric {
  labelNames?: readonly string[];
  hashMap?: Record<string, { labels?: Record<string, string | number> } | undefined>;
  remove(labels: Record<string, string | number>): void;
}
