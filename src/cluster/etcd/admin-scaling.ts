/**
 * The scaling-limit episode: "hit" when jobs have waited, or a worker has been overloaded with
 * nobody to take its excess, for longer than `scalingLimitAfterMs`; "resolved" when neither holds.
 * The episode lives in etcd (`scaling`, written fenced before the event is sent), so a new admin
 * neither repeats a hit nor loses the resolution.
 */

import type { AdminContext } from './admin-context.js';
import type { AdminWriter } from './admin-writer.js';
import { op } from './client.js';
import { stuckWorkers } from './ownership.js';
import { encode, parseScaling, type ScalingValue } from './values.js';

export class ScalingEpisode {
  /** the episode as etcd holds it (undefined: not read yet since this admin was elected) */
  private scaling: ScalingValue | null | undefined = undefined;

  constructor(
    private readonly c: AdminContext,
    private readonly writer: AdminWriter,
  ) {}

  /** True while a "scaling limit hit" episode is open. */
  get active(): boolean {
    return this.scaling?.active === true;
  }

  /** Looks at the mirror; writes and reports a hit or a resolution when one is due. */
  async check(): Promise<void> {
    const { mirror, keys } = this.c;
    if (this.scaling === undefined) {
      const g = await this.c.rpc.get(keys.scaling);
      this.scaling = g.kv ? parseScaling(g.kv.value) : null;
      if (this.scaling?.active) {
        this.c.logger.info(
          { since: this.scaling.since, by: this.scaling.by },
          'scaling episode continues (read from etcd)',
        );
      }
    }
    const now = this.c.clock.now();
    const waiting = mirror.waitingJobs();
    let since = Number.POSITIVE_INFINITY;
    if (waiting > 0) {
      for (const id of mirror.freeSince.keys()) since = Math.min(since, mirror.freeSince.get(id) ?? now);
      since = Math.min(since, now);
    }
    const stuck = stuckWorkers(mirror, now);
    for (const w of stuck) since = Math.min(since, w.since);
    const holds = waiting > 0 || stuck.length > 0;
    const active = this.active;
    if (holds && !active && now - since >= this.c.tuning.scalingLimitAfterMs) {
      const value: ScalingValue = {
        active: true,
        since,
        waitingJobs: waiting,
        stuckWorkers: stuck.map((w) => w.id),
        by: this.c.me,
      };
      if (!(await this.writer.write([op.put(keys.scaling, encode(value))]))) return;
      this.scaling = value;
      this.c.logger.warn(
        { waitingJobs: waiting, stuckWorkers: value.stuckWorkers, since },
        'scaling limit hit: the cluster cannot keep up',
      );
      this.c.onScaling({ active: true, waitingJobs: waiting, stuckWorkers: value.stuckWorkers, since });
    } else if (!holds && active) {
      const value: ScalingValue = {
        active: false,
        since: now,
        waitingJobs: 0,
        stuckWorkers: [],
        by: this.c.me,
      };
      if (!(await this.writer.write([op.put(keys.scaling, encode(value))]))) return;
      this.scaling = value;
      this.c.logger.info({}, 'scaling limit resolved: no job waiting, no worker overloaded without relief');
      this.c.onScaling({ active: false, waitingJobs: 0, stuckWorkers: [], since: now });
    }
  }
}
