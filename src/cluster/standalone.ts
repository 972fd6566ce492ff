import type { ConfigSnapshot } from '../config/types.js';
import type { AlertState } from '../model/alert.js';
import type { Clock } from '../model/clock.js';
import { systemClock } from '../model/clock.js';
import type { Endpoint } from '../model/endpoint.js';
import type { ClusterStatus, Coordinator, JobLag, OwnedJob } from './coordinator.js';

/**
 * One process owns every endpoint of its own folder. Alert state lives in memory only.
 * Same engine, no coordination: what `watcher run` without `--etcd` uses.
 */
export class StandaloneCoordinator implements Coordinator {
  readonly mode = 'standalone' as const;
  private listeners: Array<(jobs: ReadonlyMap<string, OwnedJob>) => void> = [];
  private owned = new Map<string, OwnedJob>();
  private loaded = false;
  private startedAt: number;
  private lastGood = new Map<string, Endpoint[]>();
  private lagP99Ms: number | null = null;

  constructor(
    private readonly workerId: string,
    private readonly address: string,
    private readonly clock: Clock = systemClock,
    private readonly version = '',
  ) {
    this.startedAt = clock.now();
  }

  async start(): Promise<void> {}

  /** Always: nothing else can own these jobs. */
  mayRun(): boolean {
    return true;
  }

  /** No handoffs, so no use for the dispatch horizon. */
  setDispatchHorizon(): void {}

  /** Keeps the lag p99 for status(); no shedding (there is nobody to shed to). */
  reportLag(_stats: ReadonlyMap<string, JobLag>, _completed?: number, lagP99Ms?: number | null): void {
    this.lagP99Ms = lagP99Ms ?? null;
  }

  /** Nobody to hand work to: the engine's own degraded handling is all there is. */
  setLocallyDegraded(): void {}

  /**
   * A file that breaks keeps its last good endpoints running (the problem is reported loudly
   * elsewhere): a typo must not silently stop monitoring. A removed file removes its endpoints.
   * The etcd admin applies the same rule when it reconciles (docs/CONFIG.md "Broken files").
   */
  setDesired(snapshot: ConfigSnapshot): void {
    const next = new Map<string, OwnedJob>();
    const now = this.clock.now();
    for (const ep of snapshot.endpoints) {
      next.set(ep.name, { endpoint: ep, takenOver: false, dueSince: now });
    }
    const broken = new Set(snapshot.files.filter((f) => !f.ok).map((f) => f.file));
    const good = new Map<string, Endpoint[]>();
    for (const ep of snapshot.endpoints) good.set(ep.file, [...(good.get(ep.file) ?? []), ep]);
    for (const file of broken) {
      for (const ep of this.lastGood.get(file) ?? []) {
        if (!next.has(ep.name)) next.set(ep.name, { endpoint: ep, takenOver: false, dueSince: now });
      }
    }
    for (const file of [...this.lastGood.keys()])
      if (!broken.has(file) && !good.has(file)) this.lastGood.delete(file);
    for (const [file, eps] of good) this.lastGood.set(file, eps);
    this.owned = next;
    this.loaded = true;
    for (const l of this.listeners) l(this.owned);
  }

  onOwnedChange(listener: (jobs: ReadonlyMap<string, OwnedJob>) => void): void {
    this.listeners.push(listener);
    if (this.loaded) listener(this.owned);
  }

  async loadAlertStates(): Promise<Map<string, AlertState>> {
    return new Map();
  }

  saveAlertState(): void {}

  ready(): boolean {
    return this.loaded;
  }

  status(): ClusterStatus {
    return {
      mode: 'standalone',
      self: this.workerId,
      admin: this.workerId,
      etcdUp: false,
      workers: [
        {
          id: this.workerId,
          address: this.address,
          capacity: null,
          version: this.version,
          startedAt: this.startedAt,
          jobs: this.owned.size,
          jobsets: 0,
          lagP99Ms: this.lagP99Ms,
          shedding: false,
        },
      ],
      jobsets: [],
      waiting: 0,
    };
  }

  async stop(): Promise<void> {
    this.owned = new Map();
  }
}
