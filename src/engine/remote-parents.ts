/**
 * Health of `depends_on` parents owned by other workers (cluster mode). Their state lives in etcd
 * (written on changes only); a read of a few keys every 2 s keeps suppression right across
 * workers without any per-check traffic. Standalone owns every parent, so there is nothing to read.
 */
import type { AlertStates } from '../cluster/coordinator.js';
import type { Health } from '../model/alert.js';
import type { Endpoint } from '../model/endpoint.js';
import type { Logger } from '../model/logger.js';

export class RemoteParents {
  private readonly states = new Map<string, Health>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Pick<AlertStates, 'loadAlertStates'>,
    private readonly logger: Logger,
  ) {}

  /** the last read state of a parent this worker does not own */
  get(name: string): Health | undefined {
    return this.states.get(name);
  }

  /** call `refresh` every 2 s (the engine's, which knows the owned jobs) */
  start(refresh: () => void): void {
    this.timer = setInterval(refresh, 2000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Read the parents named by owned jobs that are not owned here themselves. */
  refresh(owned: ReadonlyMap<string, { endpoint: Endpoint }>): Promise<void> {
    const wanted = new Set<string>();
    for (const job of owned.values()) {
      for (const p of job.endpoint.dependsOn) if (!owned.has(p)) wanted.add(p);
    }
    for (const name of this.states.keys()) if (!wanted.has(name)) this.states.delete(name);
    if (wanted.size === 0) return Promise.resolve();
    return this.store.loadAlertStates([...wanted]).then(
      (states) => {
        for (const name of wanted) {
          const st = states.get(name);
          if (st) this.states.set(name, st.state);
          else this.states.delete(name);
        }
      },
      (err: unknown) => this.logger.debug({ err }, 'could not refresh remote parent states'),
    );
  }
}
