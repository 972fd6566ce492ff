import type { Metrics } from '../metrics.js';
import type { StateChange } from '../model/alert.js';
import type { BackoffPolicy } from '../model/backoff.js';
import { type Clock, systemClock } from '../model/clock.js';
import type { Endpoint, SelfTargets, SinkTargets } from '../model/endpoint.js';
import type { Logger } from '../model/logger.js';
import type { CheckResult } from '../model/result.js';
import { AwsClients } from './aws-clients.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from './http.js';
import { DEFAULT_OUTBOX_OPTIONS, Outbox, type OutboxOptions } from './outbox.js';
import { redactingLogger, SecretSet } from './redact.js';
import {
  type ClusterSignals,
  type EndpointRoute,
  type RouteContext,
  routeEndpoint,
  routeSelf,
  routeSelfMetrics,
} from './routes.js';
import { isAlertWorthy } from './template-values.js';
import type { SelfEvent, Sink, SinkStats } from './types.js';

export interface SinkHubOptions {
  metrics: Pick<Metrics, 'sinkSent' | 'sinkDropped'>;
  logger: Logger;
  clock?: Clock;
  workerId: string;
  /** per-sink outbox bound, items (default 10,000) */
  bufferSize?: number;
  /** DD_SITE, AWS_REGION, AWS_ENDPOINT_URL_*, AWS_ACCESS_KEY_ID... (default process.env) */
  env?: NodeJS.ProcessEnv;
  /** longest a result waits to be batched, ms (default 1000) */
  flushIntervalMs?: number;
  /** per-request timeout, ms (default 10,000) */
  requestTimeoutMs?: number;
  /** retry backoff (default 500 ms doubling to 30 s, jittered) */
  backoff?: Partial<BackoffPolicy>;
  /** attempts of an item the destination rejects on its own (default 10) */
  maxItemAttempts?: number;
  /** `sink_dropping` self events per sink at most every this many ms (default 60,000) */
  droppingEventIntervalMs?: number;
  /** lower the 500 KB compressed limit of Datadog series requests (tests) */
  seriesMaxCompressedBytes?: number;
}

export interface SinkHub {
  /** hot reload: routes per endpoint; creates or reuses one outbox per destination */
  configure(endpoints: Endpoint[], self: SelfTargets[]): void;
  /** every result; never blocks, never throws */
  result(r: CheckResult): void;
  /** state changes only; kept ahead of plain results in buffers */
  stateChange(c: StateChange): void;
  /** reported to the sinks configured under `self` */
  selfEvent(e: SelfEvent): void;
  /** the admin's autoscaling signals to the `self` CloudWatch destinations */
  clusterSignals(cluster: string, signals: ClusterSignals, at: number): void;
  stats(): SinkStats[];
  /** flush on graceful stop, bounded by graceMs; what is left is counted as dropped */
  close(graceMs: number): Promise<void>;
}

export function createSinkHub(opts: SinkHubOptions): SinkHub {
  return new Hub(opts);
}

const ERROR_LOG_EVERY_MS = 60_000;

class Hub implements SinkHub {
  private readonly clock: Clock;
  private readonly env: NodeJS.ProcessEnv;
  private readonly secrets = new SecretSet();
  private readonly log: Logger;
  private readonly outboxOpts: OutboxOptions;
  private readonly timeoutMs: number;
  private readonly clients: AwsClients;
  private readonly outboxes = new Map<string, Outbox<unknown>>();
  private readonly labels = new Map<string, string>();
  private routes = new Map<string, EndpointRoute>();
  private selfRoutes: Array<(e: SelfEvent) => void> = [];
  private signalRoutes: Array<(cluster: string, s: ClusterSignals, at: number) => void> = [];
  private readonly alarmsPut = new Set<string>();
  private readonly lastDroppingEvent = new Map<string, number>();
  private lastErrorLog = Number.NEGATIVE_INFINITY;
  private closing = false;
  /** set while a sink_dropping event is being queued: its own drops are not reported again */
  private reportingDrop = false;

  constructor(private readonly opts: SinkHubOptions) {
    this.clock = opts.clock ?? systemClock;
    this.env = opts.env ?? process.env;
    this.secrets.add(this.env.DD_API_KEY);
    this.secrets.add(this.env.AWS_SECRET_ACCESS_KEY);
    this.secrets.add(this.env.AWS_SESSION_TOKEN);
    this.log = redactingLogger(opts.logger.child({ module: 'sinks' }), this.secrets);
    this.timeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.outboxOpts = {
      flushIntervalMs: opts.flushIntervalMs ?? DEFAULT_OUTBOX_OPTIONS.flushIntervalMs,
      bufferSize: opts.bufferSize ?? DEFAULT_OUTBOX_OPTIONS.bufferSize,
      backoff: { ...DEFAULT_OUTBOX_OPTIONS.backoff, ...opts.backoff },
      maxItemAttempts: opts.maxItemAttempts ?? DEFAULT_OUTBOX_OPTIONS.maxItemAttempts,
    };
    this.clients = new AwsClients(this.env, this.timeoutMs);
  }

  configure(endpoints: Endpoint[], self: SelfTargets[]): void {
    try {
      for (const ep of endpoints) this.addSecrets(ep.sinks);
      for (const t of self) this.addSecrets(t.sinks);
      const used = new Set<string>();
      const ctx = this.routeContext(used);
      const routes = new Map<string, EndpointRoute>();
      for (const ep of endpoints) {
        try {
          const route = routeEndpoint(ep, ctx);
          // most endpoints report nowhere: no entry (and no two arrays) per endpoint for them
          if (route.results.length > 0 || route.changes.length > 0) routes.set(ep.name, route);
        } catch (err) {
          this.log.error({ endpoint: ep.name, err: errText(err) }, 'cannot route endpoint to its sinks');
        }
      }
      const seen = new Set<string>();
      const selfRoutes: Array<(e: SelfEvent) => void> = [];
      const signalRoutes: Array<(cluster: string, s: ClusterSignals, at: number) => void> = [];
      for (const t of self) {
        try {
          selfRoutes.push(...routeSelf(t, ctx, seen));
          signalRoutes.push(...routeSelfMetrics(t, ctx, seen));
        } catch (err) {
          this.log.error({ file: t.file, err: errText(err) }, 'cannot route self events');
        }
      }
      this.routes = routes;
      this.selfRoutes = selfRoutes;
      this.signalRoutes = signalRoutes;
      // retire destinations no endpoint uses any more, once they have delivered what they hold
      for (const [key, ob] of this.outboxes) {
        if (used.has(key) || !ob.isIdle()) continue;
        this.outboxes.delete(key);
        this.labels.delete(ob.name);
      }
    } catch (err) {
      this.log.error({ err: errText(err) }, 'sink configuration failed');
    }
  }

  result(r: CheckResult): void {
    this.guard(() => {
      const route = this.routes.get(r.endpoint);
      if (route) for (const fn of route.results) this.guard(() => fn(r));
    });
  }

  stateChange(c: StateChange): void {
    this.guard(() => {
      if (!isAlertWorthy(c)) return;
      const route = this.routes.get(c.endpoint);
      if (route) for (const fn of route.changes) this.guard(() => fn(c));
    });
  }

  selfEvent(e: SelfEvent): void {
    this.guard(() => {
      this.log.debug({ kind: e.kind, worker: e.worker }, 'self event');
      for (const fn of this.selfRoutes) this.guard(() => fn(e));
    });
  }

  clusterSignals(cluster: string, signals: ClusterSignals, at: number): void {
    this.guard(() => {
      for (const fn of this.signalRoutes) this.guard(() => fn(cluster, signals, at));
    });
  }

  stats(): SinkStats[] {
    return [...this.outboxes.values()].map((o) => {
      const s = o.stats();
      return { ...s, lastError: s.lastError === null ? null : this.secrets.scrub(s.lastError) };
    });
  }

  async close(graceMs: number): Promise<void> {
    this.closing = true;
    // keep the process alive while flushing (the clock's timers are unref'd)
    const keepAlive = setTimeout(() => {}, Math.max(0, graceMs) + 2000);
    try {
      await Promise.all([...this.outboxes.values()].map((o) => o.close(graceMs)));
    } finally {
      clearTimeout(keepAlive);
      this.clients.destroy();
    }
  }

  private routeContext(used: Set<string>): RouteContext {
    return {
      outbox: <T>(key: string, label: string, make: (name: string) => Sink<T>): Outbox<T> => {
        used.add(key);
        const existing = this.outboxes.get(key);
        if (existing) return existing as Outbox<T>;
        const name = this.uniqueLabel(label, key);
        const ob = new Outbox<T>(make(name), this.outboxOpts, {
          clock: this.clock,
          logger: this.log,
          metrics: this.opts.metrics,
          onDrop: (sink, count, reason) => this.onDrop(sink, count, reason),
          scrub: this.secrets.scrub,
        });
        this.outboxes.set(key, ob as Outbox<unknown>);
        return ob;
      },
      env: this.env,
      timeoutMs: this.timeoutMs,
      ...(this.opts.seriesMaxCompressedBytes
        ? { seriesMaxCompressedBytes: this.opts.seriesMaxCompressedBytes }
        : {}),
      clients: this.clients,
      firstAlarm: (endpoint, hash) => {
        const k = `${endpoint}\u0000${hash}`;
        if (this.alarmsPut.has(k)) return false;
        this.alarmsPut.add(k);
        return true;
      },
      warn: (msg, fields) => this.log.warn(fields, msg),
    };
  }

  /** two destinations with the same public label (e.g. two API keys on one site) get `#2`, `#3`... */
  private uniqueLabel(label: string, key: string): string {
    let name = label;
    for (let n = 2; this.labels.has(name) && this.labels.get(name) !== key; n++) name = `${label}#${n}`;
    this.labels.set(name, key);
    return name;
  }

  private addSecrets(s: SinkTargets): void {
    this.secrets.add(s.datadog?.apiKey);
    this.secrets.add(s.postApiKey?.paramValue);
    this.secrets.add(s.aws?.secretAccessKey);
    this.secrets.add(s.aws?.accessKeyId);
  }

  /** at most one `sink_dropping` self event per sink per interval; emitted after the current push */
  private onDrop(sink: string, count: number, reason: string): void {
    // at shutdown the self sinks are closing too: reporting there would only drop more
    if (this.closing || this.reportingDrop) return;
    const now = this.clock.now();
    const last = this.lastDroppingEvent.get(sink);
    const every = this.opts.droppingEventIntervalMs ?? 60_000;
    if (last !== undefined && now - last < every) return;
    this.lastDroppingEvent.set(sink, now);
    const safeReason = this.secrets.scrub(reason);
    queueMicrotask(() => {
      this.reportingDrop = true;
      try {
        this.selfEvent({
          kind: 'sink_dropping',
          at: now,
          worker: this.opts.workerId,
          message: `sink ${sink} is dropping data (${count} item(s): ${safeReason})`,
          details: { sink, dropped: count, reason: safeReason },
        });
      } finally {
        this.reportingDrop = false;
      }
    });
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      const now = this.clock.now();
      if (now - this.lastErrorLog >= ERROR_LOG_EVERY_MS) {
        this.lastErrorLog = now;
        this.log.error({ err: errText(err) }, 'sink routing failed');
      }
    }
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
