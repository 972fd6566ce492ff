/** WatcherRegistry renders counters and gauges itself: its text must equal prom-client's own. */
import { Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.js';
import { havePromtool, promtoolCheck } from '../support/promtool.js';

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

describe('series hygiene', () => {
  it('retainEndpoints drops every series of endpoints no longer owned, also ones written late', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const late = new Gauge({
      name: 'watcher_test_endpoint_gauge',
      help: 'a metric added later with an endpoint label',
      labelNames: ['endpoint', 'phase'],
      registers: [m.registry],
    });
    for (const e of ['a', 'b', 'c']) {
      m.checksTotal.inc({ endpoint: e, result: 'success' });
      m.checksTotal.inc({ endpoint: e, result: 'failure' });
      late.set({ endpoint: e, phase: 'x' }, 1);
    }
    m.configErrors.inc({ file: 'a' });
    m.retainEndpoints(new Set(['b']));
    let text = await m.registry.metrics();
    expect(text).not.toMatch(/endpoint="[ac]"/);
    expect(text).toContain('watcher_checks_total{endpoint="b",result="success"} 1');
    expect(text).toContain('watcher_test_endpoint_gauge{endpoint="b",phase="x"} 1');
    expect(text).toContain('watcher_config_errors_total{file="a"} 1');
    // a check that was in flight when "a" moved away reports afterwards: gone at the next scrape
    m.checksTotal.inc({ endpoint: 'a', result: 'success' });
    text = await m.registry.metrics();
    expect(text).not.toContain('endpoint="a"');
    m.retainEndpoints(new Set(['a', 'b']));
    m.checksTotal.inc({ endpoint: 'a', result: 'success' });
    expect(await m.registry.metrics()).toContain('watcher_checks_total{endpoint="a",result="success"} 1');
  });

  it('standalone (cluster: false) exports no cluster metrics; cluster mode exports them', async () => {
    const clusterOnly = [
      'watcher_etcd_up',
      'watcher_is_admin',
      'watcher_jobsets_owned',
      'watcher_jobs_waiting',
      'watcher_cluster_spare_capacity',
      'watcher_cluster_workers_needed',
      'watcher_claims_total',
      'watcher_etcd_write_errors_total',
    ];
    const standalone = createMetrics({ defaultMetrics: false, cluster: false });
    standalone.etcdUp.set(0);
    const text = await standalone.registry.metrics();
    for (const name of clusterOnly) expect(text).not.toContain(name);
    expect(text).toContain('watcher_jobs_owned');
    const cluster = await createMetrics({ defaultMetrics: false }).registry.metrics();
    for (const name of clusterOnly) expect(cluster).toContain(`# TYPE ${name}`);
  });

  it.skipIf(!havePromtool())('promtool check metrics is clean, default metrics included', async () => {
    const m = createMetrics();
    m.checksTotal.inc({ endpoint: 'x', result: 'success' });
    m.configErrors.inc({ file: 'a.yml' });
    m.sinkSent.inc({ sink: 'datadog' });
    m.sinkDropped.inc({ sink: 'datadog' });
    m.claimsTotal.inc({ outcome: 'won' });
    m.checkDuration.observe(0.1);
    m.scheduleLag.observe(0.01);
    m.etcdUp.set(1);
    m.spareCapacity.set(-1);
    expect(promtoolCheck(await m.registry.metrics())).toBe('');
  });
});
