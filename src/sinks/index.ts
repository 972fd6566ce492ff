/** Public surface of the sinks module (the composition root imports from here). */

export type { SinkErrorCode } from './errors.js';
export { SinkError } from './errors.js';
export type { SinkHub, SinkHubOptions } from './hub.js';
export { createSinkHub } from './hub.js';
export type { OutboxOptions, Priority } from './outbox.js';
export { DEFAULT_OUTBOX_OPTIONS, Outbox } from './outbox.js';
export type {
  ItemOutcome,
  SelfEvent,
  SelfEventKind,
  SendReport,
  Sink,
  SinkLimits,
  SinkStats,
} from './types.js';
