/**
 * The JSON document of GET /api/v1/status (docs/API.md): one naming style (snake_case), a
 * `version`, built from the internal (camelCase) views of the engine and the coordinator. The
 * cluster scope (cluster-status.ts) merges several workers' local documents of this shape.
 */
import type { ClusterStatus, OperatorCommand, WorkerInfo } from '../cluster/coordinator.js';
import type { ConfigProblem, FileStatus } from '../config/types.js';
import type { EndpointStatus } from '../engine/endpoint-status.js';
import type { CheckResult, PhaseTimings } from '../model/result.js';
import type { SinkStats } from '../sinks/types.js';

/** Bumped on any breaking change of the document (1 was the mixed-case answer before it). */
export const STATUS_VERSION = 2;

export type Scope = 'local' | 'cluster';

/** The latest result as the API shows it: timings in snake_case. */
export type ResultDoc = Pick<
  CheckResult,
  | 'scheduled_at'
  | 'started_at'
  | 'duration_ms'
  | 'ok'
  | 'status_code'
  | 'error'
  | 'values'
  | 'maintenance'
  | 'silenced'
  | 'run_now'
> & {
  timings?: Record<string, number>;
  /** tls probes and https checks: days until the leaf certificate expires (negative: expired) */
  cert_expiry_days?: number;
};

export interface EndpointDoc {
  name: string;
  file: string;
  url: string;
  /** worker that owns it; null = waiting for a worker */
  owner: string | null;
  /** null when nobody reported it (owner did not answer, or waiting) */
  state: string | null;
  suppressed: boolean;
  /** inside a maintenance window now (alerts held, checks go on) */
  maintenance: boolean;
  /** under an operator's `watcher silence` now */
  silenced: boolean;
  /** `watcher pause` holds: not checked */
  paused: boolean;
  since: number;
  next_due: number | null;
  skipped_slots: number;
  depends_on: string[];
  last: ResultDoc | null;
  history_ms: Array<number | null>;
}

export interface WorkerDoc {
  id: string;
  address: string;
  admin: boolean;
  watcher_version: string;
  started_at: number;
  jobs: number;
  jobsets: number;
  capacity: number | null;
  lag_p99_ms: number | null;
  shedding: boolean;
  overloaded: boolean;
  owned_rate: number | null;
  served_rate: number | null;
  /** from the worker's own answer (cluster scope); null when not asked or it did not answer */
  coverage: number | null;
  lease_ok: boolean | null;
  /** cluster scope: whether it answered; null in local scope (not asked) */
  answered: boolean | null;
}

export interface SelfDoc {
  id: string;
  address: string;
  mode: 'standalone' | 'etcd';
  watcher_version: string;
  admin: boolean;
  /** cluster: lease held and etcd reachable; standalone: null */
  etcd_up: boolean | null;
  jobs: number;
  lag_p99_ms: number | null;
  overloaded: boolean;
  overloaded_since: number | null;
  behind_jobs: number;
  served_rate: number | null;
  coverage: number;
  checks_pending: number;
  checks_run: number;
  checks_skipped: Record<string, number>;
  /** local faults (EMFILE, a dead thread...) in an episode (docs/RUNBOOK.md) */
  degraded: boolean;
  /** `--results-file`: whether it is being written, and the lines dropped so far */
  results_file: { path: string; ok: boolean; error: string | null; dropped: number } | null;
}

export interface ProblemDoc extends ConfigProblem {
  /** cluster scope: the workers that report it */
  seen_by?: string[];
}

export interface UnansweredDoc {
  id: string;
  address: string;
  /** stable code, e.g. PEER_TIMEOUT (docs/API.md) */
  code: string;
  error: string;
}

export interface StatusDoc {
  version: number;
  scope: Scope;
  generated_at: number;
  worker: SelfDoc;
  cluster: {
    mode: 'standalone' | 'etcd';
    admin: string | null;
    etcd_up: boolean | null;
    waiting: number;
    workers: WorkerDoc[];
    jobsets: Array<{ id: string; owner: string | null; jobs: number }>;
    /** cluster: operator commands in force (silence, pause, run-now); see OPERATIONS.md */
    commands?: OperatorCommand[];
    /** cluster: this worker's writes refused by etcd (NOSPACE...), with the remedy and which write was refused first */
    etcd_writes?: {
      refused: boolean;
      cause: string | null;
      remedy: string | null;
      since: number | null;
      error: string | null;
      what: string | null;
    };
  };
  /** cluster scope: workers that did not answer (their endpoints have state null) */
  unanswered: UnansweredDoc[];
  partial: boolean;
  config: { files: FileStatus[]; problems: ProblemDoc[] } | null;
  sinks: Array<{ sink: string; queued: number; sent: number; dropped: number; last_error: string | null }>;
  endpoints: EndpointDoc[];
}

/** The engine's part of SelfDoc. */
export type HealthDoc = Omit<
  SelfDoc,
  'id' | 'address' | 'mode' | 'watcher_version' | 'admin' | 'etcd_up' | 'jobs'
>;

/** What the composition root hands over to build this worker's own document. */
export interface LocalSources {
  id: string;
  address: string;
  watcherVersion: string;
  health: HealthDoc;
  cluster: ClusterStatus | null;
  config: { files: FileStatus[]; problems: ConfigProblem[] } | null;
  sinks: SinkStats[];
  endpoints: EndpointStatus[];
}

const PHASE_NAMES: Record<string, string> = {
  dns: 'dns_ms',
  connect: 'connect_ms',
  tls: 'tls_ms',
  firstByte: 'first_byte_ms',
  total: 'total_ms',
};

function timingsDoc(t: PhaseTimings): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(t)) {
    if (typeof v === 'number')
      out[PHASE_NAMES[k] ?? `${k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_ms`] = v;
  }
  return out;
}

function certDays(values: Record<string, string> | undefined): { cert_expiry_days?: number } {
  const v = values?.cert_expiry_days;
  if (v === undefined) return {};
  const n = Number(v);
  return Number.isFinite(n) ? { cert_expiry_days: n } : {};
}

export function endpointDoc(e: EndpointStatus, owner: string): EndpointDoc {
  const r = e.last;
  return {
    name: e.name,
    file: e.file,
    url: e.url,
    owner,
    state: e.state,
    suppressed: e.suppressed,
    maintenance: e.maintenance,
    silenced: e.silenced,
    paused: e.paused,
    since: e.since,
    next_due: e.next_due,
    skipped_slots: e.skipped_slots,
    depends_on: e.depends_on,
    last: r
      ? {
          scheduled_at: r.scheduled_at,
          started_at: r.started_at,
          duration_ms: r.duration_ms,
          ok: r.ok,
          status_code: r.status_code,
          error: r.error,
          ...(r.maintenance ? { maintenance: true as const } : {}),
          ...(r.silenced ? { silenced: true as const } : {}),
          ...(r.run_now ? { run_now: true as const } : {}),
          // captured values (response_json_values, dns answers, certificate fields), for templates and people
          values: r.values,
          ...(r.timings ? { timings: timingsDoc(r.timings) } : {}),
          ...certDays(r.values),
        }
      : null,
    history_ms: e.history_ms,
  };
}

export function workerDoc(w: WorkerInfo, admin: string | null): WorkerDoc {
  return {
    id: w.id,
    address: w.address,
    admin: w.id === admin,
    watcher_version: w.version,
    started_at: w.startedAt,
    jobs: w.jobs,
    jobsets: w.jobsets,
    capacity: w.capacity,
    lag_p99_ms: w.lagP99Ms,
    shedding: w.shedding,
    overloaded: w.overloaded ?? false,
    owned_rate: w.ownedRate ?? null,
    served_rate: w.servedRate ?? null,
    coverage: null,
    lease_ok: null,
    answered: null,
  };
}

/** This worker's own answer (`?scope=local`): the endpoints it owns, the cluster as its mirror holds it. */
export function localStatusDoc(src: LocalSources, now: number): StatusDoc {
  const c = src.cluster;
  const mode = c?.mode ?? 'standalone';
  const admin = c?.admin ?? null;
  const etcdUp = mode === 'etcd' ? (c?.etcdUp ?? false) : null;
  return {
    version: STATUS_VERSION,
    scope: 'local',
    generated_at: now,
    worker: {
      id: src.id,
      address: src.address,
      mode,
      watcher_version: src.watcherVersion,
      admin: admin === src.id,
      etcd_up: etcdUp,
      jobs: src.endpoints.length,
      ...src.health,
    },
    cluster: {
      mode,
      admin,
      etcd_up: etcdUp,
      waiting: c?.waiting ?? 0,
      workers: (c?.workers ?? []).map((w) => {
        const d = workerDoc(w, admin);
        if (w.id === src.id) {
          d.coverage = src.health.coverage;
          d.lease_ok = mode === 'etcd' ? etcdUp : true;
        }
        return d;
      }),
      jobsets: (c?.jobsets ?? []).map((j) => ({ id: j.id, owner: j.owner, jobs: j.jobs })),
      ...(c?.etcdWrites ? { etcd_writes: { ...c.etcdWrites } } : {}),
      ...(c?.commands ? { commands: c.commands } : {}),
    },
    unanswered: [],
    partial: false,
    config: src.config,
    sinks: src.sinks.map((s) => ({
      sink: s.sink,
      queued: s.queued,
      sent: s.sent,
      dropped: s.dropped,
      last_error: s.lastError,
    })),
    endpoints: src.endpoints.map((e) => endpointDoc(e, src.id)),
  };
}
