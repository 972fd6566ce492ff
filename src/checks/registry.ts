/** Probe registry: kind (from the URL scheme, see probeKindOf) -> probe. */
import { dnsProbe } from './dns/probe.js';
import { httpProbe } from './http/probe.js';
import { tcpProbe, tlsProbe } from './net/probes.js';
import type { Probe } from './probe.js';

export const probes: Record<string, Probe> = {
  http: httpProbe,
  tcp: tcpProbe,
  tls: tlsProbe,
  dns: dnsProbe,
};
