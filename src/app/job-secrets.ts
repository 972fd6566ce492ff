/**
 * The `${VAR}` values of the job definitions a cluster worker owns from etcd (docs/CONFIG.md
 * "`${VAR}` and secrets"): remembered when a job is normalised with this worker's environment,
 * dropped when the job is no longer owned, and kept in the log redaction as their own part.
 */
import { type RawEndpoint, secretsOf } from '../config/index.js';
import type { SecretRegistry } from '../logging.js';

export class JobSecrets {
  private readonly byName = new Map<string, Set<string>>();

  constructor(
    private readonly registry: SecretRegistry,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** a job definition was normalised here */
  remember(raw: RawEndpoint): void {
    const values = secretsOf(raw, this.env);
    // most jobs have none: no entry for them (a set per owned job would be most of this map)
    if (values.size > 0) this.byName.set(raw.name, values);
    else this.byName.delete(raw.name);
  }

  /** the jobs owned now: only their values stay redacted */
  retain(owned: ReadonlyMap<string, unknown>): void {
    for (const name of this.byName.keys()) if (!owned.has(name)) this.byName.delete(name);
    this.registry.set(
      [...this.byName.values()].flatMap((v) => [...v]),
      'jobs',
    );
  }
}
