/**
 * The operator side of a clustered worker, wired in one place so that the composition root only
 * starts and stops it: the command watch (silence, pause, run-now; src/cluster/etcd/commands.ts),
 * the admin's `config-source` publication, config drift in folder mode (drift.ts), and in etcd
 * mode the watch of the desired `self` blocks (desired-self.ts), which takes the folder's place.
 * Connects in the background and retries with backoff: a worker whose command watch cannot start
 * logs it and keeps checking (in etcd mode it is not ready until the `self` key has been read).
 */
import type { OperatorCommand } from '../cluster/coordinator.js';
import type {
  CommandWatch,
  DesiredSelfWatch,
  DriftMonitor,
  EtcdClientOptions,
} from '../cluster/etcd/index.js';
import type { ConfigSnapshot, RawSelf } from '../config/types.js';
import { backoffDelay } from '../model/backoff.js';
import type { Clock, TimerHandle } from '../model/clock.js';
import type { Logger } from '../model/logger.js';
import type { CheckResult } from '../model/result.js';
import type { SelfEvent } from '../sinks/types.js';
import type { OperatorView } from './holds.js';

export interface ClusterControlsOptions {
  client: EtcdClientOptions;
  cluster: string;
  workerId: string;
  configSource: 'folder' | 'etcd';
  clock: Clock;
  logger: Logger;
  owns(name: string): boolean;
  runNow(name: string): Promise<CheckResult | null>;
  leaseId(): string | null;
  admin(): string | null;
  selfEvent(e: SelfEvent): void;
  publish(type: 'cluster', data: unknown): void;
}

export class ClusterControls {
  private watch: CommandWatch | null = null;
  private drift: DriftMonitor | null = null;
  private selfWatch: DesiredSelfWatch | null = null;
  private desiredSelf: RawSelf[] | null = null;
  private selfListener: ((blocks: RawSelf[]) => void) | null = null;
  private snapshot: ConfigSnapshot | null = null;
  private isAdmin = false;
  private closed = false;
  private retryTimer: TimerHandle | null = null;

  constructor(private readonly o: ClusterControlsOptions) {}

  start(): void {
    void this.connect(1);
  }

  /** etcd mode: the desired `self` blocks, now (once read) and at every change. */
  onDesiredSelf(fn: (blocks: RawSelf[]) => void): void {
    this.selfListener = fn;
    if (this.desiredSelf) fn(this.desiredSelf);
  }

  private async connect(attempt: number): Promise<void> {
    const o = this.o;
    let w: CommandWatch | null = null;
    try {
      const etcd = await import('../cluster/etcd/index.js');
      w = await etcd.startCommandWatch({
        ...o.client,
        cluster: o.cluster,
        clock: o.clock,
        logger: o.logger.child({ module: 'commands' }),
        workerId: o.workerId,
        owns: o.owns,
        runNow: o.runNow,
        // live viewers (dashboard) reload the status document: what is silenced or paused changed
        onChange: () => o.publish('cluster', { commands: this.active().length }),
      });
      if (o.configSource === 'etcd') {
        const sw = new etcd.DesiredSelfWatch({
          ...w.connection(),
          clock: o.clock,
          logger: o.logger,
          onChange: (blocks) => {
            this.desiredSelf = blocks;
            this.selfListener?.(blocks);
          },
        });
        await sw.start();
        this.selfWatch = sw;
      }
      this.watch = w;
      if (this.closed) return this.close();
      if (o.configSource === 'folder')
        this.drift = this.startDrift(new etcd.DriftMonitor({ ...w.connection(), ...this.driftDeps() }));
      if (this.isAdmin) this.publishSource();
    } catch (err) {
      this.selfWatch?.close();
      this.selfWatch = null;
      w?.close();
      this.watch = null;
      if (this.closed) return;
      const retryInMs = backoffDelay(attempt, { baseMs: 1000, maxMs: 30_000 }, undefined);
      o.logger.error(
        { err, retryInMs },
        o.configSource === 'etcd'
          ? 'operator commands and self sinks unavailable (watch of commands/ or self failed); retrying'
          : 'operator commands unavailable (watch of commands/ failed); retrying',
      );
      this.retryTimer = o.clock.setTimeout(() => void this.connect(attempt + 1), retryInMs);
    }
  }

  /** What the engine asks (null until the watch has listed the commands). */
  view(): OperatorView | null {
    return this.watch;
  }

  active(): OperatorCommand[] {
    return this.watch?.active() ?? [];
  }

  onAdmin(admin: boolean): void {
    this.isAdmin = admin;
    if (admin) this.publishSource();
  }

  setSnapshot(s: ConfigSnapshot): void {
    this.snapshot = s;
    this.drift?.setSnapshot(s);
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) this.o.clock.clearTimeout(this.retryTimer);
    this.drift?.close();
    this.selfWatch?.close();
    this.watch?.close();
  }

  private publishSource(): void {
    void this.watch
      ?.publishConfigSource(this.o.configSource)
      .catch((err: unknown) => this.o.logger.warn({ err }, 'could not publish config-source'));
  }

  private startDrift(m: DriftMonitor): DriftMonitor {
    if (this.snapshot) m.setSnapshot(this.snapshot);
    m.start();
    return m;
  }

  private driftDeps() {
    const o = this.o;
    return {
      clock: o.clock,
      logger: o.logger,
      workerId: o.workerId,
      leaseId: o.leaseId,
      admin: o.admin,
      onChange: (e: { drifting: boolean; mine: string; admin: string; adminChecksum: string | null }) => {
        const message = e.drifting
          ? `the endpoint folder of ${o.workerId} differs from the admin's (${e.admin}): the cluster's endpoints would change if ${o.workerId} became admin`
          : `the endpoint folder of ${o.workerId} matches the admin's again`;
        o.logger.warn({ admin: e.admin, checksum: e.mine, adminChecksum: e.adminChecksum }, message);
        o.selfEvent({
          kind: e.drifting ? 'config_drift' : 'config_drift_resolved',
          at: o.clock.now(),
          worker: o.workerId,
          message,
          details: { admin: e.admin, checksum: e.mine, admin_checksum: e.adminChecksum },
        });
        o.publish('cluster', { configDrift: e });
      },
    };
  }
}
