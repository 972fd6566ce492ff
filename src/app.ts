/**
 * Composition root of `watcher run`: builds every module and connects them. Nothing else creates
 * a module it does not own. Startup order: logger -> metrics -> status server -> coordinator ->
 * pool -> engine -> config watcher. Shutdown is the reverse, each step bounded.
 */
import { readFile } from 'node:fs/promises';
import { CheckPool } from './checks/index.js';
import type { RunOptions } from './cli/options.js';
import type { ClusterStatus, Coordinator } from './cluster/coordinator.js';
import type { EtcdCoordinator } from './cluster/etcd/index.js';
import { StandaloneCoordinator } from './cluster/standalone.js';
import { type ConfigWatcher, normalizeEndpoint, secretsOf, watchDir } from './config/index.js';
import { SCHEMA_FILE } from './config/schema.js';
import type { ConfigSnapshot } from './config/types.js';
import { Engine } from './engine/engine.js';
import { createFanout } from './engine/fanout.js';
import { heapFlags } from './heap-tuning.js';
import { createLogger, createSecretRegistry, routeGrpcLogs, routeProcessWarnings } from './logging.js';
import { createMetrics } from './metrics.js';
import { systemClock } from './model/clock.js';
import { ResultsFile } from './output/results-file.js';
import { EventStream } from './server/event-stream.js';
import { startStatusServer } from './server/status-server.js';
import { createSinkHub } from './sinks/index.js';

export const VERSION = '0.1.0';

export interface App {
  address: string;
  stop(reason: string): Promise<void>;
}

const STOP_GRACE_MS = 10_000;

export async function startApp(opts: RunOptions): Promise<App> {
  const clock = systemClock;
  const secrets = createSecretRegistry();
  secrets.add(opts.etcdPassword);
  secrets.add(opts.httpToken);
  const logger = createLogger({ level: opts.logLevel, secrets, bindings: { worker: opts.id } });
  // every stdout/stderr line is JSON: library diagnostics go through the logger too
  const unrouteWarnings = routeProcessWarnings(logger);
  if (opts.etcd) await routeGrpcLogs(logger);
  const metrics = createMetrics({ cluster: Boolean(opts.etcd) });
  const events = new EventStream();
  let snapshot: ConfigSnapshot | null = null;
  let coordinator: (Coordinator & { setDesired?(s: ConfigSnapshot): void }) | null = null;
  let engine: Engine | null = null;

  const ready = () => {
    const reasons: string[] = [];
    if (!snapshot) reasons.push('config not loaded');
    if (!coordinator?.ready()) reasons.push(opts.etcd ? 'cluster lease not held' : 'coordinator not ready');
    return { ready: reasons.length === 0, reasons };
  };

  const server = await startStatusServer({
    host: opts.listen.host,
    port: opts.listen.port,
    token: opts.httpToken,
    registry: metrics.registry,
    schema: await readFile(SCHEMA_FILE, 'utf8'),
    ready,
    events,
    logger,
    status: () => ({
      worker: {
        id: opts.id,
        version: VERSION,
        mode: opts.etcd ? 'etcd' : 'standalone',
        lag_p99_ms: engine?.lagP99(),
      },
      cluster: coordinator?.status() ?? null,
      config: snapshot ? { files: snapshot.files, problems: snapshot.problems } : null,
      sinks: sinks.stats(),
      endpoints: engine?.status() ?? [],
    }),
  });

  const sinks = createSinkHub({
    metrics,
    logger: logger.child({ module: 'sinks' }),
    clock,
    workerId: opts.id,
  });

  if (opts.etcd) {
    const { createEtcdCoordinator, credentialsFromFlags } = await import('./cluster/etcd/index.js');
    const etcd = createEtcdCoordinator({
      endpoints: opts.etcd,
      ...credentialsFromFlags({
        ca: opts.etcdCa,
        cert: opts.etcdCert,
        key: opts.etcdKey,
        user: opts.etcdUser,
        password: opts.etcdPassword,
      }),
      cluster: opts.cluster,
      workerId: opts.id,
      address: server.address,
      version: VERSION,
      leaseTtlSec: opts.leaseTtl,
      capacity: opts.capacity,
      onPartition: opts.onPartition,
      normalize: (raw) => {
        const out = normalizeEndpoint(raw, process.env);
        if ('endpoint' in out) return out.endpoint;
        logger.error(
          { endpoint: raw.name, problems: out.problems },
          'job definition from etcd is invalid here',
        );
        return null;
      },
      desired: () => snapshot,
      metrics,
      logger: logger.child({ module: 'cluster' }),
      clock,
      tuning: { scalingLimitAfterMs: opts.scalingAlertAfter * 1000 },
    });
    wireClusterEvents(etcd, { sinks, logger, events, workerId: opts.id, clock });
    coordinator = etcd;
  } else {
    coordinator = new StandaloneCoordinator(opts.id, server.address, clock, VERSION);
  }

  const pool = new CheckPool({
    threads: opts.threads,
    worker: opts.id,
    logger: logger.child({ module: 'checks' }),
    v8Flags: heapFlags(),
  });
  await pool.started();
  const resultsFile = opts.resultsFile ? new ResultsFile(opts.resultsFile) : null;
  engine = new Engine({
    clock,
    runner: pool,
    coordinator,
    outputs: createFanout({ metrics, resultsFile, sinks, events, logger }),
    logger: logger.child({ module: 'engine' }),
  });
  engine.start();
  if (coordinator instanceof StandaloneCoordinator) {
    const e = engine;
    coordinator.setLagSource(() => e.lagP99());
  }
  coordinator.onOwnedChange((owned) => {
    metrics.jobsOwned.set(owned.size);
    metrics.retainEndpoints(new Set(owned.keys()));
    events.publish('ownership', { jobs: owned.size });
  });
  await coordinator.start();

  const badFiles = new Set<string>();
  const config: ConfigWatcher = watchDir(opts.endpointsDir, { env: process.env });
  let announced = false;
  config.onSnapshot((s) => {
    snapshot = s;
    secrets.set(secretsOf(s));
    // Routes first: the self events below (and worker_started) go to the sinks this snapshot names.
    sinks.configure(s.endpoints, s.self);
    if (!announced) {
      announced = true;
      sinks.selfEvent({
        kind: 'worker_started',
        at: clock.now(),
        worker: opts.id,
        message: `worker ${opts.id} started`,
      });
    }
    const nowBad = new Set(s.problems.map((p) => p.file));
    for (const p of s.problems) {
      logger.error(
        { file: p.file, line: p.line, col: p.col, code: p.code },
        `${p.file}:${p.line}:${p.col}: ${p.message}`,
      );
    }
    for (const file of nowBad) {
      if (!badFiles.has(file)) {
        metrics.configErrors.inc({ file });
        const first = s.problems.find((p) => p.file === file);
        sinks.selfEvent({
          kind: 'config_error',
          at: clock.now(),
          worker: opts.id,
          message: first
            ? `${first.file}:${first.line}:${first.col}: ${first.message}`
            : `${file} is invalid`,
        });
      }
    }
    for (const file of badFiles) {
      if (!nowBad.has(file)) {
        logger.info({ file }, 'config file fixed');
        sinks.selfEvent({
          kind: 'config_fixed',
          at: clock.now(),
          worker: opts.id,
          message: `${file} is valid again`,
        });
      }
    }
    badFiles.clear();
    for (const f of nowBad) badFiles.add(f);
    coordinator?.setDesired?.(s);
    events.publish('config', { files: s.files.length, endpoints: s.endpoints.length, problems: s.problems });
    logger.info(
      { files: s.files.length, endpoints: s.endpoints.length, problems: s.problems.length },
      'config snapshot loaded',
    );
  });

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
        // Order matters for "a planned stop misses no slot": stop handing on slots, hand the
        // jobsets back (their new owners continue right after our last dispatched slot), and
        // only then wait for our in-flight checks, however slow they are.
        engine?.stopScheduling();
        await coordinator?.stop();
        await engine?.drain(STOP_GRACE_MS / 2);
        sinks.selfEvent({
          kind: 'worker_stopped',
          at: clock.now(),
          worker: opts.id,
          message: `worker ${opts.id} stopped (${reason})`,
        });
        await sinks.close(STOP_GRACE_MS / 4);
        await resultsFile?.close();
        await server.close();
        logger.info({}, 'stopped');
        unrouteWarnings();
      })();
      return stopping;
    },
  };
}

export type { ClusterStatus };

/** Cluster happenings an operator must hear about go to the `self` sinks and the live stream. */
function wireClusterEvents(
  etcd: EtcdCoordinator,
  deps: {
    sinks: ReturnType<typeof createSinkHub>;
    logger: ReturnType<typeof createLogger>;
    events: EventStream;
    workerId: string;
    clock: typeof systemClock;
  },
): void {
  const { sinks, logger, events, workerId, clock } = deps;
  etcd.on('admin', (isAdmin) => {
    logger.info(
      { admin: isAdmin },
      isAdmin ? 'this worker is now the admin' : 'this worker is no longer the admin',
    );
    events.publish('cluster', { admin: isAdmin ? workerId : null });
    if (isAdmin) {
      sinks.selfEvent({
        kind: 'admin_changed',
        at: clock.now(),
        worker: workerId,
        message: `${workerId} is now the admin`,
      });
    }
  });
  etcd.on('ownership', (change) => events.publish('ownership', change));
  etcd.on('partition', (p) => {
    logger.warn({ state: p.state, reason: p.reason }, `etcd ${p.state}`);
    events.publish('cluster', { partition: p.state });
  });
  etcd.on('scaling', (e) => {
    const message = e.active
      ? `scaling limit hit: ${e.waitingJobs} jobs waiting since ${new Date(e.since).toISOString()} with no worker to take them`
      : 'scaling limit resolved: no jobs waiting';
    if (e.active) logger.warn({ waiting: e.waitingJobs, since: e.since }, message);
    else logger.info({}, message);
    sinks.selfEvent({
      kind: e.active ? 'scaling_limit_hit' : 'scaling_limit_resolved',
      at: clock.now(),
      worker: workerId,
      message,
      details: { waiting_jobs: e.waitingJobs, since: e.since },
    });
    events.publish('cluster', { scaling: e });
  });
  etcd.on('problem', (err) => logger.error({ code: err.code }, err.message));
}
