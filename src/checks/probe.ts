/**
 * The probe contract: one function per check kind, all with the same signature, looked up in a
 * registry by the kind derived from the URL scheme. Shared work (time budget, duration, turning
 * exceptions into reasons) lives once in runCheck().
 */
import type { CheckSpec } from '../model/endpoint.js';
import type { PhaseTimings } from '../model/result.js';

export interface ProbeOutcome {
  ok: boolean;
  status_code: number | null;
  /** short, stable reason when !ok */
  error: string | null;
  values: Record<string, string>;
  duration_ms: number;
  timings?: PhaseTimings;
}

/**
 * The part of AbortSignal a probe may use. An AbortSignal satisfies it; runCheck passes a
 * lighter CheckDeadline (an AbortController costs ~5 µs on Node 20, a sizeable share of a
 * keep-alive check).
 */
export interface ProbeSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** What a probe knows about the slot it serves. */
export interface ProbeContext {
  /** epoch ms of the scheduled slot; HTTP sends it as `x-watcher-scheduled-at` so targets can correlate */
  scheduledAt: number;
}

/**
 * Runs one check. Must honour `signal` (abort = stop work and settle soon). May throw; runCheck
 * turns exceptions into a failed result.
 */
export type Probe = (spec: CheckSpec, signal: ProbeSignal, ctx?: ProbeContext) => Promise<ProbeOutcome>;

/** Probe kind for a spec: the URL scheme (`tcp`, `tls`, `dns`), with https folded into http. */
export function probeKindOf(url: string): string {
  const colon = url.indexOf(':');
  const scheme = colon > 0 ? url.slice(0, colon).toLowerCase() : '';
  return scheme === 'https' ? 'http' : scheme;
}
