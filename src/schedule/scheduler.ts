/**
 * One timer source for every job: a min-heap of next due times and a single armed timer for the
 * earliest. Due jobs are handed on in batches.
 *
 * Semantics:
 * - `set(jobs)` replaces the job set. Same id and hash: the job keeps its next due time (a hot
 *   reload never resets a schedule). Changed hash with the same schedule: keeps its due time too
 *   (a header change does not move or lose a slot). Changed schedule: next due recomputed from now.
 *   Removed: dropped (its heap nodes become stale and are skipped).
 * - A new job with `takenOver: true` catches up ONCE: if a slot fell due in [dueSince, now], it is
 *   handed on at the next timer turn with scheduledAt = the latest such slot, then the job continues
 *   on schedule. Never a burst of every missed slot.
 * - Falling behind (a timer firing later than the job's next slot after the due one): the job fires
 *   once, for its latest slot at or before now; the slots passed over are counted in
 *   `stats().skippedSlots`.
 * - A timer firing early (real timers, clock steps) hands on nothing and re-arms: scheduledAt is
 *   never after the moment the job is handed on.
 * - A job whose schedule cannot produce slots (bad cron, bad timezone) is logged and not scheduled;
 *   `stats().invalid` counts them. It does not affect the other jobs.
 * - Clocks: timers wait on the monotonic clock; the wall clock only names slots. A wall-clock step
 *   (the two readings drift apart by more than STEP_TOLERANCE_MS) is noticed at the next wake-up
 *   (the timer never sleeps longer than STEP_WATCH_MS), and re-plans every job at once for the new
 *   wall time: back, a job that was due fires now for its latest slot by the new wall time and
 *   one waiting for a slot now far ahead takes the next slot after the new now; forward, a job
 *   whose slot was passed over fires once for its latest slot (the falling-behind rule). Either
 *   way at most one catch-up per job. `onClockStep` hears of each step; `stats().clockSteps` counts them.
 */
import type { Clock, TimerHandle } from '../model/clock.js';
import type { Schedule } from '../model/endpoint.js';
import { type Logger, silentLogger } from '../model/logger.js';
import { intOption, numberOption } from '../model/option-checks.js';
import { type HeapNode, MinHeap } from './heap.js';
import { latestDue, nextDue, slotsBetween } from './slots.js';

/** One check to run: the job id and the slot it was scheduled for (epoch ms). */
export interface DueCheck {
  id: string;
  scheduledAt: number;
  /** earlier slots of this job passed over because the timer fired late (0 normally) */
  passed: number;
}

/** A job as the scheduler sees it (an Endpoint or OwnedJob maps onto this). */
export interface ScheduledJob {
  id: string;
  schedule: Schedule;
  /** definition hash: equal hash = unchanged job */
  hash: string;
  /** just taken over from another owner: catch up the latest slot in [dueSince, now] once */
  takenOver?: boolean;
  dueSince?: number;
}

export interface SchedulerOptions {
  clock: Clock;
  /** Called with due checks, in batches of at most maxBatch, synchronously from the timer. Must not throw (errors are logged). */
  onDue: (batch: DueCheck[]) => void;
  /** most checks per onDue call (default 256) */
  maxBatch?: number;
  /**
   * Least time between two timer wake-ups, ms (default 0: every job is handed on at its exact
   * slot). Each wake-up of a Node process costs tens of µs of CPU; with thousands of spread-out
   * jobs, 0 means a wake-up nearly every ms. N > 0 bounds wake-ups to 1000/N per second and
   * lateness to about N ms (jobs are never handed on early).
   */
  coalesceMs?: number;
  logger?: Logger;
  /** a wall-clock step was noticed and the schedule re-planned; `stepMs` < 0 = back */
  onClockStep?: (stepMs: number) => void;
}

export interface SchedulerStats {
  /** jobs scheduled */
  jobs: number;
  /** heap nodes, live and stale */
  heapNodes: number;
  /** checks handed on */
  fired: number;
  /** slots passed over because the process fell behind (each job fires once for its latest slot) */
  skippedSlots: number;
  /** catch-up checks after a takeover */
  catchUps: number;
  /** timer callbacks run */
  timerFirings: number;
  /** jobs not scheduled because their schedule is invalid */
  invalid: number;
  /** wall-clock steps noticed (each re-planned the schedule) */
  clockSteps: number;
}

interface Entry {
  id: string;
  schedule: Schedule;
  hash: string;
  nextAt: number;
  gen: number;
  /** the pending slot is a takeover catch-up (counted once when handed on) */
  catchUp: boolean;
}

/** Stale heap nodes allowed beyond the live ones before the heap is rebuilt. */
const STALE_SLACK = 1024;
/** Drift between wall and monotonic time that counts as a step (NTP slewing moves < 1 ms/s). */
export const STEP_TOLERANCE_MS = 250;
/** Longest time a step goes unnoticed while no job is due. */
export const STEP_WATCH_MS = 1000;

export class Scheduler {
  private readonly clock: Clock;
  private readonly onDue: (batch: DueCheck[]) => void;
  private readonly maxBatch: number;
  private readonly coalesceMs: number;
  private lastWake = Number.NEGATIVE_INFINITY;
  private readonly log: Logger;
  private entries = new Map<string, Entry>();
  private readonly heap = new MinHeap();
  private genSeq = 0;
  private timer: TimerHandle | null = null;
  private armedAt = Number.POSITIVE_INFINITY;
  private stopped = false;
  private readonly counters = { fired: 0, skippedSlots: 0, catchUps: 0, timerFirings: 0, clockSteps: 0 };
  /** wall − monotonic when last looked at: a change beyond STEP_TOLERANCE_MS is a wall-clock step */
  private wallOffset: number;
  private readonly onClockStep: ((stepMs: number) => void) | undefined;
  private invalidIds = new Set<string>();

  constructor(opts: SchedulerOptions) {
    this.clock = opts.clock;
    this.onDue = opts.onDue;
    this.maxBatch = intOption('maxBatch', opts.maxBatch, 256, 1);
    this.coalesceMs = numberOption('coalesceMs', opts.coalesceMs, 0, 0);
    this.log = opts.logger ?? silentLogger;
    this.onClockStep = opts.onClockStep;
    this.wallOffset = this.clock.now() - this.clock.monotonic();
  }

  /** Number of scheduled jobs. */
  get size(): number {
    return this.entries.size;
  }

  /** Next slot of a job (epoch ms), or undefined when it is not scheduled. */
  nextDueOf(id: string): number | undefined {
    return this.entries.get(id)?.nextAt;
  }

  stats(): SchedulerStats {
    return {
      jobs: this.entries.size,
      heapNodes: this.heap.size,
      ...this.counters,
      invalid: this.invalidIds.size,
    };
  }

  /** Replace the job set (see the module comment for what is kept, recomputed and dropped). */
  set(jobs: Iterable<ScheduledJob>): void {
    this.noticeStep();
    const now = this.clock.now();
    const old = this.entries;
    const next = new Map<string, Entry>();
    const invalid = new Set<string>();
    for (const job of jobs) {
      const prev = old.get(job.id) ?? next.get(job.id);
      if (prev && prev.hash === job.hash) {
        next.set(job.id, prev);
        continue;
      }
      if (prev && sameSchedule(prev.schedule, job.schedule)) {
        prev.hash = job.hash;
        prev.schedule = job.schedule;
        next.set(job.id, prev);
        continue;
      }
      let nextAt: number;
      let catchUp = false;
      try {
        nextAt = nextDue(job.schedule, now, job.id);
        if (!prev && job.takenOver && job.dueSince !== undefined) {
          const missed = latestDue(job.schedule, now, job.id);
          if (missed >= job.dueSince) {
            nextAt = missed;
            catchUp = true;
          }
        }
      } catch (err) {
        invalid.add(job.id);
        if (!this.invalidIds.has(job.id)) {
          this.log.warn({ job: job.id, err: (err as Error).message }, 'job not scheduled: invalid schedule');
        }
        continue;
      }
      const entry: Entry = {
        id: job.id,
        schedule: job.schedule,
        hash: job.hash,
        nextAt,
        gen: ++this.genSeq,
        catchUp,
      };
      next.set(job.id, entry);
      this.heap.push({ at: nextAt, id: job.id, gen: entry.gen });
    }
    this.entries = next;
    this.invalidIds = invalid;
    if (this.heap.size > 2 * next.size + STALE_SLACK) this.compact();
    this.arm();
  }

  /** Stop: clear the timer; nothing is handed on afterwards. */
  stop(): void {
    this.stopped = true;
    this.disarm();
  }

  /**
   * Compares the wall clock with the monotonic one; on a step, re-plans every job for the new wall
   * time (see the module comment) and re-arms. Returns whether there was a step.
   */
  private noticeStep(): boolean {
    const offset = this.clock.now() - this.clock.monotonic();
    const step = offset - this.wallOffset;
    this.wallOffset = offset;
    if (Math.abs(step) <= STEP_TOLERANCE_MS) return false;
    this.counters.clockSteps++;
    const now = this.clock.now();
    this.lastWake = Number.NEGATIVE_INFINITY;
    let replanned = 0;
    const before = now - step;
    for (const e of this.entries.values()) {
      let next: number;
      try {
        // Due by the old reading: it fires now, for its latest slot by the new one (the one
        // catch-up). Not yet due: its next slot by the new reading.
        next = e.nextAt <= before ? latestDue(e.schedule, now, e.id) : nextDue(e.schedule, now, e.id);
      } catch {
        continue; // handled (dropped) at its next turn
      }
      if (e.nextAt <= next) continue; // forward step: a passed-over slot fires once at this turn
      e.nextAt = next;
      e.gen = ++this.genSeq;
      this.heap.push({ at: next, id: e.id, gen: e.gen });
      replanned++;
    }
    if (this.heap.size > 2 * this.entries.size + STALE_SLACK) this.compact();
    this.log.warn({ stepMs: Math.round(step), replanned }, 'wall clock stepped; schedule re-planned');
    this.disarm();
    try {
      this.onClockStep?.(Math.round(step));
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'onClockStep failed');
    }
    return true;
  }

  private onTimer(): void {
    this.timer = null;
    this.armedAt = Number.POSITIVE_INFINITY;
    if (this.stopped) return;
    this.counters.timerFirings++;
    this.noticeStep();
    const now = this.clock.now();
    this.lastWake = now;
    const due: DueCheck[] = [];
    for (;;) {
      const top = this.heap.peek();
      if (!top || top.at > now) break;
      this.heap.pop();
      const e = this.entries.get(top.id);
      if (!e || e.gen !== top.gen) continue;
      let slot = e.nextAt;
      let after: number;
      let passed = 0;
      try {
        after = nextDue(e.schedule, slot, e.id);
        if (after <= now) {
          const latest = latestDue(e.schedule, now, e.id);
          passed = slotsBetween(e.schedule, slot, latest, e.id);
          this.counters.skippedSlots += passed;
          slot = latest;
          after = nextDue(e.schedule, latest, e.id);
        }
      } catch (err) {
        // Valid when set() accepted it; a cron with no further slot ends here.
        this.log.warn({ job: e.id, err: (err as Error).message }, 'job has no next slot');
        this.entries.delete(e.id);
        continue;
      }
      if (e.catchUp) {
        this.counters.catchUps++;
        e.catchUp = false;
      }
      due.push({ id: e.id, scheduledAt: slot, passed });
      e.nextAt = after;
      e.gen = ++this.genSeq;
      this.heap.push({ at: after, id: e.id, gen: e.gen });
    }
    this.counters.fired += due.length;
    for (let i = 0; i < due.length && !this.stopped; i += this.maxBatch) {
      const batch = due.length <= this.maxBatch ? due : due.slice(i, i + this.maxBatch);
      try {
        this.onDue(batch);
      } catch (err) {
        this.log.error({ err: (err as Error).message, checks: batch.length }, 'onDue failed');
      }
    }
    this.arm();
  }

  /** Arm the timer for the earliest live node, unless it is already armed for that time. */
  private arm(): void {
    if (this.stopped) return;
    let top = this.heap.peek();
    while (top && this.entries.get(top.id)?.gen !== top.gen) {
      this.heap.pop();
      top = this.heap.peek();
    }
    if (!top) {
      this.disarm();
      return;
    }
    const at = Math.max(top.at, this.lastWake + this.coalesceMs);
    if (this.timer !== null && this.armedAt === at) return;
    this.disarm();
    this.armedAt = at;
    // Never sleeps longer than STEP_WATCH_MS: the wake-up is also where a wall-clock step is noticed.
    const delay = Math.min(STEP_WATCH_MS, Math.max(0, at - this.clock.now()));
    this.timer = this.clock.setTimeout(() => this.onTimer(), delay);
  }

  private disarm(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.armedAt = Number.POSITIVE_INFINITY;
  }

  private compact(): void {
    const nodes: HeapNode[] = [];
    for (const e of this.entries.values()) nodes.push({ at: e.nextAt, id: e.id, gen: e.gen });
    this.heap.rebuild(nodes);
  }
}

function sameSchedule(a: Schedule, b: Schedule): boolean {
  if (a.kind === 'interval') return b.kind === 'interval' && a.everyMs === b.everyMs;
  return b.kind === 'cron' && a.expr === b.expr && (a.timezone || 'UTC') === (b.timezone || 'UTC');
}
