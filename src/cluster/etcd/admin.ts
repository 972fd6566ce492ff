/**
 * AdminDuties, while this worker holds the admin key: reconcile the desired config into jobsets
 * (debounced, retried with backoff; lasting write refusals such as NOSPACE reported), and the
 * housekeeping rounds (at most once per rebalance interval): clean stale moves and owner keys,
 * the scaling-limit episode (admin-scaling.ts), rebalancing moves (admin-moves.ts). Every write
 * is fenced by the admin token (admin-writer.ts).
 */
import type { TimerHandle } from '../../model/clock.js';
import type { AdminContext } from './admin-context.js';
import { Rebalancer } from './admin-moves.js';
import { ScalingEpisode } from './admin-scaling.js';
import { AdminWriter } from './admin-writer.js';
import { type Op, op } from './client.js';
import { describeError, type WriteRefusal, writeRefusalOf } from './errors.js';
import { desiredJobs, newJobsetId } from './jobset-writes.js';
import { pack } from './packing.js';
import { encode } from './values.js';

export type { AdminContext, AdminTuning, ScalingEvent } from './admin-context.js';

/** Reconcile retries after a failure: 1 s doubling to RECONCILE_RETRY_MAX_MS (never a storm). */
const RECONCILE_RETRY_MS = 1000;
const RECONCILE_RETRY_MAX_MS = 10_000;

export class AdminDuties {
  private readonly writer: AdminWriter;
  private readonly scaling: ScalingEpisode;
  private readonly moves: Rebalancer;
  private reconcileTimer: TimerHandle | null = null;
  private houseTimer: TimerHandle | null = null;
  private houseDueAt = 0;
  private reconciling = false;
  private reconcileAgain = false;
  private housekeeping = false;
  private lastHouseAt = Number.NEGATIVE_INFINITY;
  /** consecutive failed reconciles (the retry backs off) */
  private reconcileFailures = 0;
  /** cause of the current write-refusal episode */
  private refused: WriteRefusal['cause'] | null = null;

  constructor(private readonly c: AdminContext) {
    this.writer = new AdminWriter(c);
    this.scaling = new ScalingEpisode(c, this.writer);
    this.moves = new Rebalancer(c, this.writer);
  }

  /** set by stop() or by a fenced write */
  private get stopped(): boolean {
    return this.writer.stopped;
  }

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
    this.writer.stopped = true;
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
    // monotonic: a wall clock stepped back must not hold housekeeping for the size of the step
    const now = this.c.clock.monotonic();
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

  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    if (this.reconciling) {
      this.reconcileAgain = true;
      return;
    }
    if (this.writer.behind()) {
      this.scheduleReconcile(50);
      return;
    }
    const snapshot = this.c.desired();
    if (!snapshot) return;
    this.reconciling = true;
    try {
      const { mirror, keys } = this.c;
      const existingJobs = [...mirror.jobsets.values()].reduce((n, j) => n + j.count, 0);
      if (snapshot.raw.size === 0 && snapshot.files.length === 0 && existingJobs > 0) {
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
      const ok = await this.writer.write(ops);
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
    if (this.writer.behind()) {
      this.scheduleHousekeeping(50);
      return;
    }
    this.housekeeping = true;
    this.lastHouseAt = this.c.clock.monotonic();
    try {
      await this.moves.cleanup();
      await this.scaling.check();
      if (this.c.tuning.rebalance) {
        // blocked by the cooldown maybe: look again when the next moved jobset may move again
        const again = await this.moves.rebalance();
        if (again !== null) this.scheduleHousekeeping(again);
      }
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
      this.scaling.active ||
      [...mirror.workers.values()].some((w) => w.value.overloaded)
    ) {
      this.scheduleHousekeeping(this.c.tuning.rebalanceIntervalMs);
    }
  }
}
