/** Probe registry: kind (from the URL scheme, see probeKindOf) -> probe. */
import { httpProbe } from './http/probe.js';
import type { Probe } from './probe.js';

export const probes: Record<string, Probe> = {
  http: httpProbe,
};
