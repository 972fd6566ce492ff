/** docs/autoscaling/ names exactly what the workers export and send. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '../../src/metrics.js';
import {
  buildMetricRequests,
  clusterMetricItem,
  DEFAULT_NAMESPACE,
} from '../../src/sinks/cloudwatch-metrics.js';
import { REPO_ROOT } from '../support/processes.js';

const dir = join(REPO_ROOT, 'docs/autoscaling');

describe('autoscaling files', () => {
  it('the HPA and the adapter rule read a metric every worker exports', async () => {
    const exported = (await createMetrics({ defaultMetrics: false }).registry.getMetricsAsJSON()).map(
      (m) => m.name,
    );
    const hpa = parse(readFileSync(join(dir, 'hpa.yaml'), 'utf8'));
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    const name = hpa.spec.metrics[0].external.metric.name as string;
    expect(exported).toContain(name);
    const rules = parse(readFileSync(join(dir, 'prometheus-adapter-rules.yaml'), 'utf8'));
    expect(rules.externalRules[0].name.as).toBe(name);
    expect(rules.externalRules[0].seriesQuery).toContain(name);
  });

  it('the AWS policy reads the CloudWatch metric the admin sends', () => {
    const policy = JSON.parse(readFileSync(join(dir, 'aws-target-tracking.json'), 'utf8'));
    const stat = policy.CustomizedMetricSpecification.Metrics.find((m: { Id: string }) => m.Id === 'needed')
      .MetricStat.Metric;
    const [req] = buildMetricRequests([
      clusterMetricItem('default', { jobsWaiting: 0, spareCapacity: 0, workersNeeded: 2 }, Date.now(), null),
    ]);
    expect(stat.Namespace).toBe(DEFAULT_NAMESPACE);
    expect(req?.namespace).toBe(stat.Namespace);
    const sent = req?.data.find((d) => d.MetricName === stat.MetricName);
    expect(sent, `${stat.MetricName} is sent`).toBeDefined();
    expect(sent?.Dimensions?.map((d) => d.Name)).toEqual(
      stat.Dimensions.map((d: { Name: string }) => d.Name),
    );
  });
});
