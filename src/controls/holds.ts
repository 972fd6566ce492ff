/**
 * What the engine asks before it sends alerts or runs a check: is the endpoint inside a
 * maintenance window, silenced by an operator, paused? One small interface so that the engine
 * knows nothing of etcd or of how operator commands are stored.
 */
import { maintenanceAt } from '../alerts/maintenance.js';
import type { Endpoint } from '../model/endpoint.js';

export interface AlertHold {
  maintenance: boolean;
  silenced: boolean;
}

export interface EngineControls {
  /** null when alerts of the endpoint go out normally at `at` (epoch ms) */
  holdOf(endpoint: Endpoint, at: number): AlertHold | null;
  /** true while an operator's `watcher pause` holds: due slots are not run */
  paused(name: string): boolean;
}

/** Which endpoints an operator silenced or paused (the command store's current view). */
export interface OperatorView {
  silenced(endpoint: Pick<Endpoint, 'name' | 'tags'>, at: number): boolean;
  paused(name: string): boolean;
}

const NOBODY: OperatorView = { silenced: () => false, paused: () => false };

/** Maintenance windows from the endpoint's own definition plus the operator's view. */
export function createEngineControls(view: () => OperatorView | null = () => null): EngineControls {
  return {
    holdOf(endpoint, at) {
      const maintenance = maintenanceAt(endpoint.maintenance, at) !== null;
      const silenced = (view() ?? NOBODY).silenced(endpoint, at);
      return maintenance || silenced ? { maintenance, silenced } : null;
    },
    paused: (name) => (view() ?? NOBODY).paused(name),
  };
}

/** Marks a result (and the change it causes) with the holds in force. */
export function markHeld<T extends { maintenance?: true; silenced?: true }>(x: T, hold: AlertHold | null): T {
  if (hold?.maintenance) x.maintenance = true;
  if (hold?.silenced) x.silenced = true;
  return x;
}
