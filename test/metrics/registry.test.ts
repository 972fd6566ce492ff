/** WatcherRegistry renders counters and gauges itself: its text must equal prom-client's own. */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.js';

describe('WatcherRegistry', () => {
  it('prints exactly what prom-client prints, escapes and special values included', async () => {
    const m = createMetrics({ defaultMetrics: false });
    for (let i = 0; i < 50; i++)
      m.checksTotal.inc({ endpoint: `h${i}.example.com/x`, result: 'success' }, i + 1);
    m.checksTotal.inc({ endpoint: 'we"ird\\path\nname', result: 'failure' });
    m.configErrors.inc({ file: 'a.yml' });
    m.jobsOwned.set(Number.NaN);
    m.etcdUp.set(Number.NEGATIVE_INFINITY);
    m.isAdmin.set(0.1 + 0.2);
    m.checkDuration.observe(0.2);
    m.scheduleLag.observe(0.003);
    const ours = await m.registry.metrics();
    const theirs = await Registry.prototype.metrics.call(m.registry);
    expect(ours).toBe(theirs);
    expect(ours).toContain('watcher_checks_total{endpoint="we\\"ird\\\\path\\nname",result="failure"} 1');
  });

  it('falls back to prom-client with default labels', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.registry.setDefaultLabels({ worker: 'w1' });
    m.jobsOwned.set(3);
    expect(await m.registry.metrics()).toContain('watcher_jobs_owned{worker="w1"} 3');
  });
});
