/**
 * What this worker holds: the owned jobsets with their fencing tokens, the jobsets with a move in
 * flight, and the revision each was last given away at. OwnedJobsets owns it; the pieces that
 * move jobsets (Claimer, GiveAway, PartitionRecovery) change it and say so through its events.
 */
import type { ClusterContext } from './context.js';
import { Emitter } from './context.js';
import type { Mirror } from './mirror.js';
import { loadOf, type Ownership } from './ownership.js';

export interface OwnershipChange {
  acquired: string[];
  lost: string[];
  reason: string;
}

export interface OwnedJobsetsEvents {
  /** jobsets gained or lost, with why */
  ownership: [change: OwnershipChange];
  /** the owned set changed: hand the engine its new jobs now (before any write that gives them away) */
  jobs: [];
  /** look at the mirror again */
  react: [];
  /** what this worker publishes changed (shed): publish its record now */
  publish: [];
  /** a claim attempt ended (watcher_cluster_claims_total) */
  claim: [outcome: 'won' | 'lost' | 'error'];
}

export interface OwnedJobsetsConfig {
  capacity: number | null;
  leaseTtlSec: number;
  onPartition: 'continue' | 'pause';
}

export class Holdings {
  readonly events: Emitter<OwnedJobsetsEvents>;
  readonly owned = new Map<string, Ownership>();
  /** jobset → when a claim, handover or release of it started */
  readonly inflight = new Map<string, number>();
  /** revision of this worker's last write that gave a jobset away: older mirror records are ignored */
  readonly gaveAwayAt = new Map<string, number>();

  constructor(
    ctx: ClusterContext,
    private readonly mirror: Mirror,
  ) {
    this.events = new Emitter(ctx.log);
  }

  /** Owned and being claimed: jobs and checks/s. */
  myLoad(): { jobs: number; rate: number } {
    return loadOf(this.mirror, [...this.owned.keys(), ...this.inflight.keys()]);
  }
}
