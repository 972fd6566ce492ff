import type { ConfigSnapshot } from '../../config/types.js';
import type { Clock, TimerHandle } from '../../model/clock.js';
import type { Logger } from '../../model/logger.js';
import { cmp, type EtcdRpc, type Op, op } from './client.js';
import { describeError, type WriteRefusal, writeRefusalOf } from './errors.js';
import { chunkOps, desiredJobs, newJobsetId } from './jobset-writes.js';
import type { Keys } from './keys.js';
import type { Mirror } from './mirror.js';
import { stuckWorkers } from './ownership.js';
import { pack } from './packing.js';
import { type Candidate, hasRoom, type OwnedJobset, planMoves } from './plan.js';
import { encode, parseScaling, type ScalingValue } from './values.js';

export interface ScalingEvent {
  /**
   * true: for longer than the threshold, jobs have waited or a worker has been overloaded with
   * nobody to take its excess; false: resolved (neither holds any more)
   */
  active: boolean;
  waitingJobs: number;
  /** overloaded workers that no other worker has room to relieve */
  stuckWorkers: string[];
  /** epoch ms the condition began (active) or cleared (resolved) */
  since: number;
}

export interface AdminTuning {
  reconcileDebounceMs: number;
  rebalanceIntervalMs: number;
  /** most moves planned per round [min(32, max(2, jobsets/20))] */
  maxMovesPerRound: number | null;
  /** a moved jobset is not moved back to the worker it came from for this long */
  moveCooldownMs: number;
  scalingLimitAfterMs: number;
  /** false: never plan moves (tests, or operators who want none) */
  rebalance: boolean;
}

export interface AdminContext {
  rpc: EtcdRpc;
  keys: Keys;
  mirror: Mirror;
  me: string;
  token: number;
  clock: Clock;
  logger: Logger;
  desired(): ConfigSnapshot | null;
  tuning: AdminTuning;
  /** the admin key is no longer ours: the coordinator drops the admin role */
  onFenced(): void;
  onScaling(e: ScalingEvent): void;
  /** etcd refused an admin write for a lasting reason (NOSPACE...): once per cause and episode */
  onWriteRefused?(refusal: WriteRefusal, error: string): void;
  /** every refused write (metrics, the worker's refusal episode) */
  onWriteError?(refusal: WriteRefusal, error: string): void;
  /** etcd accepts admin writes again after a refusal */
  onWritesAccepted?(): void;
}

/** Reconcile retries after a failure: 1 s doubling to RECONCILE_RETRY_MAX_MS (never a storm). */
const RECONCILE_RETRY_MS = 1000;
const RECONCILE_RETRY_MAX_MS = 10_000;

export class AdminDuties {
  private stopped = false;
  private reconcileTimer: TimerHandle | null = null;
  private houseTimer: TimerHandle | null = null;
  private houseDueAt = 0;
  private reconciling = false;
  private reconcileAgain = false;
  private housekeeping = false;
  private lastHouseAt = 0;
  /** highest revision this admin wrote; decisions wait until the mirror has seen it */
  private lastWriteRev = 0;
  /** jobset → when it was last moved and from which worker */
  private readonly movedAt = new Map<string, { at: number; from: string }>();
  /** the episode as etcd holds it (undefined: not read yet since this admin was elected) */
  private scaling: ScalingValue | null | undefined = undefined;
  /** consecutive failed reconciles (the retry backs off) */
  private reconcileFailures = 0;
  /** cause of the current write-refusal episode */
  private refused: WriteRefusal['cause'] | null = null;

  constructor(private readonly c: AdminContext) {}

  /** The cause while etcd refuses admin writes (NOSPACE...), else null. */
  get writeRefusal(): WriteRefusal['cause'] | null {
    return this.refused;
  }

  start(): void {
    this.c.logger.info({ token: this.c.token }, 'admin duties started');
    this.scheduleReconcile(0);
    this.scheduleHousekeeping(this.c.tuning.rebalanceIntervalMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.reconcileTimer) this.c.clock.clearTimeout(this.reconcileTimer);
    if (this.houseTimer) this.c.clock.clearTimeout(this.houseTimer);
    this.reconcileTimer = null;
    this.houseTimer = null;
  }

  /** A new config snapshot on this worker. */
  onDesired(): void {
    this.scheduleReconcile(this.c.tuning.reconcileDebounceMs);
  }

  /** The mirror changed (workers, owners, moves, jobsets). */
  onMirror(): void {
    this.scheduleHousekeeping(200);
  }

  private scheduleReconcile(ms: number): void {
    if (this.stopped) return;
    if (this.reconcileTimer) this.c.clock.clearTimeout(this.reconcileTimer);
    this.reconcileTimer = this.c.clock.setTimeout(() => {
      this.reconcileTimer = null;
      void this.reconcile();
    }, ms);
  }

  /** Runs housekeeping in `ms` (at most once per rebalance interval); an earlier request wins. */
  private scheduleHousekeeping(ms: number): void {
    if (this.stopped) return;
    const now = this.c.clock.now();
    const wait = Math.max(ms, this.lastHouseAt + this.c.tuning.rebalanceIntervalMs - now);
    if (this.houseTimer) {
      if (this.houseDueAt <= now + wait) return;
      this.c.clock.clearTimeout(this.houseTimer);
    }
    this.houseDueAt = now + wait;
    this.houseTimer = this.c.clock.setTimeout(() => {
      this.houseTimer = null;
      void this.runHousekeeping();
    }, wait);
  }

  /** Writes ops in fenced transactions; false when the fence failed (we are no longer admin). */
  private async write(ops: Op[], extraCompare: ReturnType<typeof cmp.mod>[] = []): Promise<boolean> {
    for (const chunk of chunkOps(ops)) {
      if (this.stopped) return false;
      const r = await this.c.rpc.txn([cmp.create(this.c.keys.admin, this.c.token), ...extraCompare], chunk);
      if (!r.succeeded) {
        if (extraCompare.length > 0) return false;
        this.c.logger.warn({}, 'admin write fenced off: another worker is admin now');
        this.stopped = true;
        this.c.onFenced();
        return false;
      }
      this.lastWriteRev = Math.max(this.lastWriteRev, r.rev);
    }
    return true;
  }

  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    if (this.reconciling) {
      this.reconcileAgain = true;
      return;
    }
    if (this.c.mirror.rev < this.lastWriteRev) {
      this.scheduleReconcile(50);
      return;
    }
    const snapshot = this.c.desired();
    if (!snapshot) return;
    this.reconciling = true;
    try {
      const { mirror, keys } = this.c;
      const existingJobs = [...mirror.jobsets.values()].reduce((n, j) => n + j.count, 0);
      if (snapshot.endpoints.length === 0 && snapshot.files.length === 0 && existingJobs > 0) {
        this.c.logger.warn(
          { jobs: existingJobs },
          'admin has no endpoint files: keeping the cluster desired state as it is (use `watcher apply` or give the admin the folder)',
        );
        return;
      }
      const now = this.c.clock.now();
      const desired = desiredJobs(snapshot, now);
      const retainFiles = new Set(snapshot.files.filter((f) => !f.ok).map((f) => f.file));
      const result = pack(
        [...mirror.jobsets.values()].map((j) => ({ id: j.id, value: j.value })),
        desired,
        { newId: () => newJobsetId((id) => mirror.jobsets.has(id)), retainFiles },
      );
      for (const name of result.tooLarge)
        this.c.logger.error({ endpoint: name }, 'endpoint definition too large for etcd; not scheduled');
      const ops: Op[] = [];
      for (const [id, value] of result.puts) ops.push(op.put(keys.jobset(id), encode(value)));
      for (const id of result.deletes) {
        ops.push(op.del(keys.jobset(id)), op.del(keys.owner(id)), op.del(keys.move(id)));
      }
      for (const name of result.removed) ops.push(op.del(keys.state(name)));
      if (ops.length === 0) {
        this.reconcileSucceeded();
        return;
      }
      const ok = await this.write(ops);
      this.reconcileSucceeded();
      if (ok) {
        this.c.logger.info(
          {
            added: result.added.length,
            changed: result.changed.length,
            removed: result.removed.length,
            jobsetsWritten: result.puts.size,
            jobsetsDeleted: result.deletes.length,
          },
          'admin reconciled desired jobs into etcd',
        );
      }
    } catch (err) {
      this.reconcileFailed(err);
    } finally {
      this.reconciling = false;
      if (this.reconcileAgain) {
        this.reconcileAgain = false;
        this.scheduleReconcile(0);
      }
    }
  }

  private reconcileSucceeded(): void {
    this.reconcileFailures = 0;
    if (this.refused === null) return;
    this.refused = null;
    this.c.onWritesAccepted?.();
  }

  private reconcileFailed(err: unknown): void {
    const delay = Math.min(RECONCILE_RETRY_MAX_MS, RECONCILE_RETRY_MS * 2 ** this.reconcileFailures);
    this.reconcileFailures++;
    const refusal = writeRefusalOf(err);
    if (refusal) {
      this.c.onWriteError?.(refusal, describeError(err));
      if (this.refused !== refusal.cause) {
        this.refused = refusal.cause;
        this.c.onWriteRefused?.(refusal, describeError(err));
      }
    }
    // The first failure of a run is worth a warning; the retries are not.
    const level = this.reconcileFailures === 1 ? 'warn' : 'debug';
    this.c.logger[level](
      { err: describeError(err), cause: refusal?.cause, retryInMs: delay, failures: this.reconcileFailures },
      'admin reconcile failed; retrying',
    );
    this.scheduleReconcile(delay);
  }

  private async runHousekeeping(): Promise<void> {
    if (this.stopped || this.housekeeping) return;
    if (this.c.mirror.rev < this.lastWriteRev) {
      this.scheduleHousekeeping(50);
      return;
    }
    this.housekeeping = true;
    this.lastHouseAt = this.c.clock.now();
    try {
      await this.cleanup();
      await this.checkScaling();
      if (this.c.tuning.rebalance) await this.rebalance();
    } catch (err) {
      this.c.logger.warn({ err: describeError(err) }, 'admin housekeeping failed');
    } finally {
      this.housekeeping = false;
    }
    // keep an eye on the waiting queue and on balance while anything is pending
    const { mirror } = this.c;
    if (
      mirror.waitingJobs() > 0 ||
      mirror.moves.size > 0 ||
      this.scaling?.active === true ||
      [...mirror.workers.values()].some((w) => w.value.overloaded)
    ) {
      this.scheduleHousekeeping(this.c.tuning.rebalanceIntervalMs);
    }
  }

  private async cleanup(): Promise<void> {
    const { mirror, keys } = this.c;
    const ops: Op[] = [];
    for (const [id, mv] of mirror.moves) {
      const owner = mirror.owners.get(id);
      const stale =
        !mirror.jobsets.has(id) ||
        !owner ||
        owner.modRev !== mv.value.ownerRev ||
        owner.value.owner === null ||
        !mirror.workers.has(mv.value.to) ||
        !mirror.workers.has(owner.value.owner);
      if (stale) ops.push(op.del(keys.move(id)));
    }
    for (const id of mirror.owners.keys()) if (!mirror.jobsets.has(id)) ops.push(op.del(keys.owner(id)));
    if (ops.length > 0) {
      await this.write(ops);
      this.c.logger.debug({ ops: ops.length }, 'admin cleaned stale moves and orphan owner keys');
    }
  }

  /**
   * "scaling limit hit": jobs have waited, or a worker has been overloaded with nobody to take its
   * excess, for longer than `scalingLimitAfterMs`; "resolved" when neither holds. The episode lives
   * in etcd (`scaling`, written fenced before the event is sent), so a new admin neither repeats a
   * hit nor loses the resolution.
   */
  private async checkScaling(): Promise<void> {
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
    const active = this.scaling?.active === true;
    if (holds && !active && now - since >= this.c.tuning.scalingLimitAfterMs) {
      const value: ScalingValue = {
        active: true,
        since,
        waitingJobs: waiting,
        stuckWorkers: stuck.map((w) => w.id),
        by: this.c.me,
      };
      if (!(await this.write([op.put(keys.scaling, encode(value))]))) return;
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
      if (!(await this.write([op.put(keys.scaling, encode(value))]))) return;
      this.scaling = value;
      this.c.logger.info({}, 'scaling limit resolved: no job waiting, no worker overloaded without relief');
      this.c.onScaling({ active: false, waitingJobs: 0, stuckWorkers: [], since: now });
    }
  }

  private async rebalance(): Promise<void> {
    const { mirror, keys } = this.c;
    if (mirror.moves.size > 0) return;
    const loads = mirror.loads();
    const candidates: Candidate[] = [];
    for (const [id, w] of mirror.workers) {
      const l = loads.get(id) ?? { jobs: 0, jobsets: 0, rate: 0 };
      candidates.push({
        id,
        capacity: w.value.capacity,
        jobs: l.jobs,
        rate: l.rate,
        shedding: w.value.shedding,
        rateCap: w.value.rateCap,
      });
    }
    // Abandoned work is claimed first; move only once nothing claimable waits.
    for (const js of mirror.freeJobsets()) {
      if (candidates.some((c) => !c.shedding && hasRoom(c, js.count, js.value.rate))) return;
    }
    const now = this.c.clock.now();
    const owned: OwnedJobset[] = [];
    let coolUntil = Number.POSITIVE_INFINITY;
    for (const [id, o] of mirror.owners) {
      const js = mirror.jobsets.get(id);
      if (!js || o.value.owner === null) continue;
      const moved = this.movedAt.get(id);
      const cooling = moved && moved.at + this.c.tuning.moveCooldownMs > now ? moved : undefined;
      if (cooling) coolUntil = Math.min(coolUntil, cooling.at + this.c.tuning.moveCooldownMs);
      else this.movedAt.delete(id);
      owned.push({
        id,
        owner: o.value.owner,
        jobs: js.count,
        rate: js.value.rate,
        movable: !mirror.moves.has(id),
        notTo: cooling?.from,
      });
    }
    const maxMoves =
      this.c.tuning.maxMovesPerRound ?? Math.min(32, Math.max(2, Math.ceil(mirror.jobsets.size / 20)));
    const moves = planMoves(candidates, owned, { maxMoves });
    if (moves.length === 0) {
      // blocked by the cooldown maybe: look again when the next moved jobset may move again
      // (nothing else would wake housekeeping up in a quiet cluster)
      if (coolUntil !== Number.POSITIVE_INFINITY) this.scheduleHousekeeping(coolUntil - now + 50);
      return;
    }
    let written = 0;
    for (const m of moves) {
      const owner = mirror.owners.get(m.jobset);
      if (!owner || this.stopped) continue;
      const value = encode({ to: m.to, ownerRev: owner.modRev, at: now });
      const r = await this.c.rpc.txn(
        [
          cmp.create(keys.admin, this.c.token),
          cmp.mod(keys.owner(m.jobset), owner.modRev),
          cmp.create(keys.move(m.jobset), 0),
        ],
        [op.put(keys.move(m.jobset), value)],
        [op.get(keys.admin)],
      );
      if (r.succeeded) {
        written++;
        this.movedAt.set(m.jobset, { at: now, from: m.from });
        this.lastWriteRev = Math.max(this.lastWriteRev, r.rev);
      } else {
        const adminKv = r.responses[0]?.response_range?.kvs?.[0];
        if (!adminKv || Number(adminKv.create_revision) !== this.c.token) {
          this.stopped = true;
          this.c.onFenced();
          return;
        }
      }
    }
    if (written > 0)
      this.c.logger.info({ moves: written, planned: moves.length }, 'admin planned rebalancing moves');
  }
}
