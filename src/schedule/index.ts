export { LagTracker, type LagTrackerOptions, lagThresholdMs } from './lag.js';
export {
  type DueCheck,
  type ScheduledJob,
  Scheduler,
  type SchedulerOptions,
  type SchedulerStats,
} from './scheduler.js';
export {
  assertValidSchedule,
  latestDue,
  nextDue,
  phaseOf,
  SCHEDULE_INVALID,
  slotsBetween,
  typicalIntervalMs,
} from './slots.js';
