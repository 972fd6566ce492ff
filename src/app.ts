/**
 * Composition root of `watcher run`: builds every module and connects them. Nothing else creates
 * a module it does not own. Startup order: logger -> metrics -> status server -> coordinator ->
 * pool -> engine -> config watcher. Shutdown is the reverse, each step bounded.
 */
import { readFile } from 'node:fs/promises';
import { Counter } from 'prom-client';
import { type ClusterHooks, wireClusterEvents } from './app/cluster-events.js';
import { ConfigProblemReport } from './app/config-report.js';
import { engineHealth, warnFdShortage } from './app/health.js';
import { JobSecrets } from './app/job-secrets.js';
import { type AppOptions, coalesceMsFrom } from './app/options.js';
import { announceClockStep, announceLocalFaults } from './app/own-faults.js';
import { openResultsFile, resultsFileHealth } from './app/results-file.js';
import { planInflight, readFdLimit } from './checks/fd-budget.js';
import { CheckPool } from './checks/index.js';
import type { ClusterStatus, Coordinator, HealthIdentity } from './cluster/coordinator.js';
import type { EtcdCoordinator } from './cluster/etcd/coordinator.js';
import { StandaloneCoordinator } from './cluster/standalone.js';
import { type ConfigWatcher, normalizeEndpoint, secretsOf, selfSnapshot, watchDir } from './config/index.js';
import { SCHEMA_FILE } from './config/schema.js';
import type { ConfigSnapshot } from './config/types.js';
import { ClusterControls } from './controls/cluster-controls.js';
import { createEngineControls } from './controls/holds.js';
import { createConfirmation } from './engine/confirm-reports.js';
import { Engine } from './engine/engine.js';
import { createFanout } from './engine/fanout.js';
import { LocalFaultMonitor } from './engine/local-faults.js';
import { createEngineObserver } from './engine/observer.js';
import { heapFlags } from './heap-tuning.js';
import { createLogger, createSecretRegistry, routeGrpcLogs, routeProcessWarnings } from './logging.js';
import { createMetrics, retainCertExpiry } from './metrics.js';
import { systemClock } from './model/clock.js';
import type { Endpoint } from './model/endpoint.js';
import type { ResultsFile } from './output/results-file.js';
import { ClusterView } from './server/cluster-status.js';
import { EventRelay } from './server/event-relay.js';
import { createEventStreams } from './server/event-stream.js';
import { PeerStreams } from './server/peer-streams.js';
import { localStatusDoc } from './server/status-doc.js';
import { startStatusServer } from './server/status-server.js';
import { createSinkHub, type SelfEventKind } from './sinks/index.js';
import { VERSION } from './version.js';

export interface App {
  address: string;
  stop(reason: string): Promise<void>;
}

const STOP_GRACE_MS = 10_000;

/** `env`: the environment endpoint files and jobs from etcd are normalised with. */
export async function startApp(opts: AppOptions, env: NodeJS.ProcessEnv): Promise<App> {
  const clock = systemClock;
  const secrets = createSecretRegistry();
  const jobSecrets = new JobSecrets(secrets, env);
  secrets.add(opts.etcdPassword);
  secrets.add(opts.httpToken);
  const logger = createLogger({ level: opts.logLevel, secrets, bindings: { worker: opts.id } });
  // every stdout/stderr line is JSON: library diagnostics go through the logger too
  const unrouteWarnings = routeProcessWarnings(logger);
  if (opts.etcd) await routeGrpcLogs(logger);
  const metrics = createMetrics({ cluster: Boolean(opts.etcd) });
  const eventsDropped = new Counter({
    name: 'watcher_events_dropped_total',
    help: 'live events a slow SSE client did not get (it was told to reload), by stream',
    labelNames: ['stream'],
    registers: [metrics.registry],
  });
  const streams = createEventStreams({
    selfId: opts.id,
    redact: (t) => secrets.redact(t),
    dropped: (stream, n) => eventsDropped.inc({ stream }, n),
  });
  const events = streams.local;
  let snapshot: ConfigSnapshot | null = null;
  let coordinator: Coordinator | null = null;
  let engine: Engine | null = null;
  let clusterHooks: ClusterHooks | null = null;
  let identity: (() => HealthIdentity | null) | null = null;
  let resultsFile: ResultsFile | null = null;
  let localFaults: LocalFaultMonitor | null = null;
  let etcdCoordinator: EtcdCoordinator | null = null;
  /** cluster: the endpoints this worker owns, the only ones its sinks route (whatever the folder holds) */
  let ownedEndpoints: Endpoint[] = [];
  const announce = (kind: SelfEventKind, message: string, details?: Record<string, unknown>): void =>
    sinks.selfEvent({ kind, at: clock.now(), worker: opts.id, message, ...(details ? { details } : {}) });

  const ready = () => {
    const reasons: string[] = [];
    if (!snapshot) reasons.push('config not loaded');
    if (!coordinator?.ready()) reasons.push(opts.etcd ? 'cluster lease not held' : 'coordinator not ready');
    return { ready: reasons.length === 0, reasons };
  };

  const localStatus = () =>
    localStatusDoc(
      {
        id: opts.id,
        address: advertised,
        watcherVersion: VERSION,
        health: {
          ...engineHealth(engine),
          degraded: localFaults?.degraded ?? false,
          results_file: resultsFileHealth(resultsFile),
        },
        cluster: coordinator ? { ...coordinator.status(), commands: controls?.active() ?? [] } : null,
        config: snapshot ? { files: snapshot.files, problems: snapshot.problems } : null,
        sinks: sinks.stats(),
        endpoints: engine?.status() ?? [],
      },
      clock.now(),
    );
  const clusterView = new ClusterView({
    selfId: opts.id,
    local: localStatus,
    cluster: () => coordinator?.status() ?? null,
    token: opts.httpToken,
  });
  const relay = new EventRelay({
    selfId: opts.id,
    token: opts.httpToken,
    peers: () => coordinator?.status().workers ?? [],
    into: streams.cluster,
    logger: logger.child({ module: 'relay' }),
  });
  // cluster: the peers' death-watch streams, fed the engine's dispatch horizon
  const peerStreams = opts.etcd ? new PeerStreams() : undefined;
  const server = await startStatusServer({
    host: opts.listen.host,
    port: opts.listen.port,
    token: opts.httpToken,
    registry: metrics.registry,
    schema: await readFile(SCHEMA_FILE, 'utf8'),
    ready,
    events: streams,
    onClusterListener: () => relay.wake(),
    redact: (t) => secrets.redact(t),
    identity: () => identity?.() ?? null,
    peerStreams,
    logger,
    status: (scope) => (scope === 'local' ? localStatus() : clusterView.status()),
  });
  // what peers (cluster view, event relay) and the worker record use to reach this server
  const advertised = opts.advertise ?? server.address;
  relay.start();

  const sinks = createSinkHub({
    metrics,
    logger: logger.child({ module: 'sinks' }),
    clock,
    workerId: opts.id,
  });

  let controls: ClusterControls | null = null; // operator commands, config source, drift
  if (opts.etcd) {
    const { createEtcdCoordinator, credentialsFromFlags } = await import('./cluster/etcd/index.js');
    const etcdClient = {
      endpoints: opts.etcd,
      ...credentialsFromFlags({
        ca: opts.etcdCa,
        cert: opts.etcdCert,
        key: opts.etcdKey,
        user: opts.etcdUser,
        password: opts.etcdPassword,
      }),
    };
    const etcd = createEtcdCoordinator({
      ...etcdClient,
      cluster: opts.cluster,
      workerId: opts.id,
      address: advertised,
      version: VERSION,
      leaseTtlSec: opts.leaseTtl,
      capacity: opts.capacity,
      onPartition: opts.onPartition,
      normalize: (raw) => {
        const out = normalizeEndpoint(raw, env);
        jobSecrets.remember(raw);
        if ('endpoint' in out) return out.endpoint;
        logger.error(
          { endpoint: raw.name, problems: out.problems },
          'job definition from etcd is invalid here',
        );
        return null;
      },
      metrics,
      logger: logger.child({ module: 'cluster' }),
      clock,
      tuning: { scalingLimitAfterMs: opts.scalingAlertAfter * 1000 },
    });
    clusterHooks = wireClusterEvents(etcd, {
      sinks,
      logger,
      events,
      workerId: opts.id,
      clock,
      cluster: opts.cluster,
    });
    coordinator = etcd;
    etcdCoordinator = etcd;
    identity = () => etcd.identity();
    controls = new ClusterControls({
      client: etcdClient,
      cluster: opts.cluster,
      workerId: opts.id,
      configSource: opts.configSource,
      clock,
      logger,
      owns: (name) => engine?.owns(name) ?? false,
      runNow: (name) => engine?.runNow(name) ?? Promise.resolve(null),
      leaseId: () => etcd.leaseId(),
      admin: () => etcd.status().admin,
      selfEvent: (e) => sinks.selfEvent(e),
      publish: (type, data) => events.publish(type, data),
    });
    etcd.on('admin', (admin) => controls?.onAdmin(admin));
  } else {
    coordinator = new StandaloneCoordinator(opts.id, advertised, clock, VERSION);
  }

  const inflight = planInflight(readFdLimit(), opts.threads);
  logger.info(
    {
      fdLimit: inflight.limit?.soft ?? null,
      fdHardLimit: inflight.limit?.hard ?? null,
      checksInFlightPerThread: inflight.perThread,
      threads: opts.threads,
    },
    'check concurrency sized from the file descriptor limit',
  );
  const pool = new CheckPool({
    threads: opts.threads,
    worker: opts.id,
    logger: logger.child({ module: 'checks' }),
    v8Flags: heapFlags(),
    maxConcurrentPerThread: inflight.perThread,
  });
  await pool.started();
  if (opts.resultsFile) resultsFile = openResultsFile(opts.resultsFile, { clock, metrics, logger, announce });
  const coord = coordinator;
  const ownFaults = {
    workerId: opts.id,
    logger,
    announce,
    publish: (type: 'worker', data: Record<string, unknown>) => events.publish(type, data),
  };
  localFaults = new LocalFaultMonitor({
    clock,
    onEpisode: announceLocalFaults(ownFaults),
    onDominated: (d) => coord.setLocallyDegraded(d),
  });
  const engineLog = logger.child({ module: 'engine' });
  const confirmation = createConfirmation({
    cluster: etcdCoordinator,
    runner: pool,
    clock,
    workerId: opts.id,
    announce,
    logger: engineLog,
    publish: (type, data) => events.publish(type, data),
  });
  engine = new Engine({
    clock,
    runner: pool,
    coordinator,
    outputs: createFanout({ metrics, resultsFile, sinks, events, logger, localFaults }),
    controls: createEngineControls(() => controls?.view() ?? null),
    logger: engineLog,
    confirmGate: confirmation.gate,
    dispatchBeacon: peerStreams,
    // One wake-up (and one task per thread) per 20 ms at most: at 2,000 checks/s this halves the
    // CPU the main thread spends per check, for ≤ 20 ms of lateness (bench/process/cpu.mjs).
    coalesceMs: coalesceMsFrom(env.WATCHER_COALESCE_MS),
    observer: createEngineObserver({
      metrics,
      logger: engineLog,
      workerId: opts.id,
      now: () => clock.now(),
      selfEvent: (e) => sinks.selfEvent(e),
      publish: (type, data) => events.publish(type, data),
      pending: () => engine?.pendingChecks() ?? 0,
    }),
    onClockStep: announceClockStep(ownFaults),
  });
  engine.start();
  coordinator.onOwnedChange((owned) => {
    // a cluster worker's sinks route what it owns (the job definitions in etcd), in both config
    // sources: routing every endpoint of the folder would hold a destination per endpoint of the
    // whole cluster (and, in etcd mode, no snapshot names an endpoint)
    if (opts.etcd) {
      ownedEndpoints = [...owned.values()].map((o) => o.endpoint);
      sinks.configure(ownedEndpoints, snapshot?.self ?? []);
      warnFdShortage(ownedEndpoints, inflight, opts.threads, logger);
      jobSecrets.retain(owned);
    }
    metrics.jobsOwned.set(owned.size);
    retainCertExpiry(metrics, owned);
    metrics.retainEndpoints(new Set(owned.keys()));
    events.publish('ownership', { jobs: owned.size });
  });
  await coordinator.start();
  controls?.start();
  confirmation.start();

  const configReport = new ConfigProblemReport({
    workerId: opts.id,
    now: () => clock.now(),
    logger,
    metrics,
    selfEvent: (e) => sinks.selfEvent(e),
  });
  let announced = false;
  const onSnapshot = (s: ConfigSnapshot): void => {
    snapshot = s;
    secrets.set(secretsOf(s));
    // Routes first: the self events below (and worker_started) go to the sinks this snapshot names.
    sinks.configure(opts.etcd ? ownedEndpoints : s.endpoints, s.self);
    clusterHooks?.sinksConfigured();
    if (!announced) {
      announced = true;
      sinks.selfEvent({
        kind: 'worker_started',
        at: clock.now(),
        worker: opts.id,
        message: `worker ${opts.id} started`,
      });
    }
    configReport.report(s);
    if (!opts.etcd) warnFdShortage(s.endpoints, inflight, opts.threads, logger);
    if (opts.configSource === 'folder') coordinator?.setDesired(s);
    controls?.setSnapshot(s);
    events.publish('config', { files: s.files.length, endpoints: s.raw.size, problems: s.problems });
    logger.info(
      {
        files: s.files.length,
        endpoints: s.raw.size,
        self: s.self.length,
        problems: s.problems.length,
      },
      'config snapshot loaded',
    );
  };
  // etcd as the source: no folder is read; the self blocks `watcher apply` stored are watched instead
  let config: Pick<ConfigWatcher, 'close'>;
  if (opts.configSource === 'etcd' && controls) {
    logger.info(
      { endpointsDir: opts.endpointsDir },
      '--config-source etcd: endpoints and self sinks come from etcd (watcher apply); --endpoints-dir is not read',
    );
    controls.onDesiredSelf((blocks) => onSnapshot(selfSnapshot(blocks, env)));
    config = { close: async () => {} };
  } else {
    // a cluster worker keeps the folder's raw definitions (drift, and the desired state should it
    // become admin), not a normalised endpoint per endpoint of the cluster: it runs its jobs from etcd
    const dir = watchDir(opts.endpointsDir, {
      env,
      maxFileBytes: opts.maxFileBytes,
      keepEndpoints: !opts.etcd,
    });
    dir.onSnapshot(onSnapshot);
    config = dir;
  }

  logger.info(
    {
      listen: server.address,
      mode: opts.etcd ? 'etcd' : 'standalone',
      threads: opts.threads,
      version: VERSION,
    },
    'watcher started',
  );

  let stopping: Promise<void> | null = null;
  return {
    address: server.address,
    stop(reason: string) {
      stopping ??= (async () => {
        logger.info({ reason }, 'stopping');
        await config.close();
        controls?.close();
        // Order matters for "a planned stop misses no slot": stop handing on slots, hand the
        // jobsets back (their new owners continue right after our last dispatched slot), and
        // only then wait for our in-flight checks, however slow they are.
        engine?.stopScheduling();
        confirmation.close();
        await coordinator?.stop();
        await engine?.drain(STOP_GRACE_MS / 2);
        sinks.selfEvent({
          kind: 'worker_stopped',
          at: clock.now(),
          worker: opts.id,
          message: `worker ${opts.id} stopped (${reason})`,
        });
        localFaults?.close();
        await sinks.close(STOP_GRACE_MS / 4);
        await resultsFile?.close();
        relay.stop();
        await server.close();
        logger.info({}, 'stopped');
        unrouteWarnings();
      })();
      return stopping;
    },
  };
}

export type { ClusterStatus };
