/**
 * The alert states of this worker's endpoints, with their policies and `depends_on` parents.
 * No I/O: results in, StateChange events out; the caller persists and sends them.
 *
 * Suppression: a change to DOWN is `suppressed: true` when any parent (by endpoint name) is DOWN
 * at that moment. A parent's state comes from this book when it holds the parent, otherwise from the
 * injected `parentState(name)` (cluster mode: the parent may be owned by another worker); unknown
 * parents count as not DOWN. Only the DOWN transition is marked; UP transitions are never suppressed.
 * A child that went DOWN while suppressed stays DOWN without a new event when its parent recovers
 * (its next DOWN, after an UP, is judged afresh).
 */
import { createHash } from 'node:crypto';
import type { AlertState, Health, StateChange } from '../model/alert.js';
import type { AlertPolicy } from '../model/endpoint.js';
import type { CheckResult } from '../model/result.js';
import { initialState, next } from './state.js';

export interface AlertBookOptions {
  /** State of a parent this book does not hold (default: always undefined). */
  parentState?: (name: string) => Health | undefined;
}

export interface AlertConfig {
  policy: AlertPolicy;
  dependsOn: readonly string[];
}

interface Slot {
  state: AlertState;
  config: AlertConfig | null;
}

/** Deterministic StateChange id: same endpoint, target state and transition time = same id. */
export function stateChangeId(endpoint: string, to: Health, at: number): string {
  return createHash('sha1').update(`${endpoint}\n${to}\n${at}`).digest('hex').slice(0, 16);
}

export class AlertBook {
  private readonly slots = new Map<string, Slot>();
  private readonly parentState: (name: string) => Health | undefined;

  constructor(opts: AlertBookOptions = {}) {
    this.parentState = opts.parentState ?? (() => undefined);
  }

  /**
   * Add an endpoint or update its policy/parents. Its state is kept (UNKNOWN when new). `config` is
   * kept as given, not copied (one per endpoint adds up): it must not be changed afterwards, as an
   * Endpoint's policy and parents never are.
   */
  configure(name: string, config: AlertConfig): void {
    const slot = this.slots.get(name);
    if (slot) slot.config = config;
    else this.slots.set(name, { state: initialState(name), config });
  }

  /**
   * Continue states from the cluster (a new owner goes on where the last one stopped: no repeated
   * DOWN). A loaded state replaces the local one unless the local one changed later (local `since`
   * newer), so a load that arrives after this worker already saw a transition does not undo it.
   * States of endpoints not configured yet are kept and used once they are configured.
   */
  load(states: Iterable<AlertState> | ReadonlyMap<string, AlertState>): void {
    const list = isMap(states) ? states.values() : states;
    for (const loaded of list) {
      const slot = this.slots.get(loaded.endpoint);
      if (!slot) {
        this.slots.set(loaded.endpoint, { state: { ...loaded }, config: null });
      } else if (slot.state.since <= loaded.since) {
        slot.state = { ...loaded };
      }
    }
  }

  /**
   * Apply one result. Returns the StateChange it causes, or null. Results of endpoints not
   * configured (removed while the check ran) are ignored.
   */
  apply(result: CheckResult): StateChange | null {
    const slot = this.slots.get(result.endpoint);
    if (!slot?.config) return null;
    const { state, change } = next(slot.state, result, slot.config.policy);
    slot.state = state;
    if (!change) return null;
    const suppressed = change.to === 'DOWN' && slot.config.dependsOn.some((p) => this.healthOf(p) === 'DOWN');
    return {
      endpoint: result.endpoint,
      from: change.from,
      to: change.to,
      at: change.at,
      reason: change.reason,
      suppressed,
      result,
      id: stateChangeId(result.endpoint, change.to, change.at),
    };
  }

  /** Current health of an endpoint: this book's, else the injected lookup's. */
  healthOf(name: string): Health | undefined {
    const own = this.slots.get(name);
    return own?.config ? own.state.state : this.parentState(name);
  }

  remove(name: string): void {
    this.slots.delete(name);
  }

  get(name: string): AlertState | undefined {
    const slot = this.slots.get(name);
    return slot?.config ? { ...slot.state } : undefined;
  }

  /** States of all configured endpoints. */
  all(): AlertState[] {
    const out: AlertState[] = [];
    for (const slot of this.slots.values()) if (slot.config) out.push({ ...slot.state });
    return out;
  }

  /** Names of configured endpoints. */
  names(): string[] {
    const out: string[] = [];
    for (const [name, slot] of this.slots) if (slot.config) out.push(name);
    return out;
  }
}

function isMap(
  x: Iterable<AlertState> | ReadonlyMap<string, AlertState>,
): x is ReadonlyMap<string, AlertState> {
  return x instanceof Map;
}
