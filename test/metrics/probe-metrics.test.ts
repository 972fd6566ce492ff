/** watcher_check_phase_seconds and watcher_tls_cert_expiry_seconds: observed from results, removed per endpoint. */
import { describe, expect, it } from 'vitest';
import { createMetrics, forgetCertExpiry, observeProbeResult, retainCertExpiry } from '../../src/metrics.js';
import type { CheckResult } from '../../src/model/result.js';

const T0 = Date.parse('2026-12-01T00:00:00Z');

function result(endpoint: string, over: Partial<CheckResult> = {}): CheckResult {
  return {
    endpoint,
    scheduled_at: T0,
    started_at: T0,
    duration_ms: 12,
    ok: true,
    status_code: null,
    error: null,
    values: {},
    worker: 'w',
    ...over,
  };
}

describe('probe metrics', () => {
  it('observes each phase that happened, without an endpoint label', async () => {
    const m = createMetrics({ defaultMetrics: false });
    observeProbeResult(
      m,
      result('a:1', { timings: { dns: 2, connect: 1, tls: 3, firstByte: 4, total: 10 } }),
    );
    observeProbeResult(m, result('b:1', { timings: { firstByte: 0.5, total: 1 } }));
    const text = await m.registry.metrics();
    expect(text).toContain('watcher_check_phase_seconds_count{phase="dns"} 1');
    expect(text).toContain('watcher_check_phase_seconds_count{phase="connect"} 1');
    expect(text).toContain('watcher_check_phase_seconds_count{phase="tls"} 1');
    expect(text).toContain('watcher_check_phase_seconds_count{phase="first_byte"} 2');
    expect(text).toContain('watcher_check_phase_seconds_sum{phase="dns"} 0.002');
    expect(text).not.toMatch(/watcher_check_phase_seconds\w*\{[^}]*endpoint=/);
  });

  it('sets the expiry gauge from cert_not_after relative to the check start, and removes it', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const notAfter = new Date(T0 + 3 * 86_400_000).toISOString();
    observeProbeResult(m, result('www:443', { values: { cert_not_after: notAfter } }));
    observeProbeResult(
      m,
      result('old:443', { values: { cert_not_after: new Date(T0 - 1000).toISOString() } }),
    );
    observeProbeResult(m, result('plain:80'));
    let text = await m.registry.metrics();
    expect(text).toContain('watcher_tls_cert_expiry_seconds{endpoint="www:443"} 259200');
    expect(text).toContain('watcher_tls_cert_expiry_seconds{endpoint="old:443"} -1');
    expect(text).not.toContain('endpoint="plain:80"');

    forgetCertExpiry(m, 'old:443');
    retainCertExpiry(m, new Set(['www:443']));
    text = await m.registry.metrics();
    expect(text).toContain('endpoint="www:443"');
    expect(text).not.toContain('endpoint="old:443"');
    retainCertExpiry(m, new Map());
    expect(await m.registry.metrics()).not.toContain('watcher_tls_cert_expiry_seconds{');
  });
});
