/**
 * The operator side of a clustered worker, wired in one place so that the composition root only
 * starts and stops it: the command watch (silence, pause, run-now; src/cluster/etcd/commands.ts),
 * the admin's `config-source` publication, and config drift in folder mode (drift.ts). Connects
 * in the background: a worker whose command watch cannot start logs it and keeps checking.
 */
import type { OperatorCommand } from '../cluster/coordinator.js';
import type { CommandWatch, DriftMonitor, EtcdClientOptions } from '../cluster/etcd/index.js';
import type { ConfigSnapshot } from '../config/types.js';
import type { Clock } from '../model/clock.js';
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
  private snapshot: ConfigSnapshot | null = null;
  private isAdmin = false;
  private closed = false;

  constructor(private readonly o: ClusterControlsOptions) {}

  start(): void {
    const o = this.o;
    void import('../cluster/etcd/index.js')
      .then(async (etcd) => {
        const w = await etcd.startCommandWatch({
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
        if (this.closed) return w.close();
        this.watch = w;
        if (o.configSource === 'folder')
          this.drift = this.startDrift(new etcd.DriftMonitor({ ...w.connection(), ...this.driftDeps() }));
        if (this.isAdmin) this.publishSource();
      })
      .catch((err: unknown) =>
        o.logger.error({ err }, 'operator commands unavailable (watch of commands/ failed)'),
      );
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
    this.drift?.close();
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
          details: { admin: e.admin },
        });
        o.publish('cluster', { configDrift: e });
      },
    };
  }
}
