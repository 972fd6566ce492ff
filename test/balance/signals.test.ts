/** The autoscaling signal `watcher_cluster_workers_needed` and its CloudWatch form (pure). */
import { describe, expect, it } from 'vitest';
import { workersNeeded } from '../../src/cluster/etcd/plan.js';
import { buildMetricRequests, clusterMetricItem } from '../../src/sinks/cloudwatch-metrics.js';

describe('workersNeeded', () => {
  it('divides the demanded rate by the mean serviceable rate measured by overloaded workers', () => {
    // one worker serving 1000/s while 1500/s are demanded: 2 workers
    expect(
      workersNeeded({ demandRate: 1500, totalJobs: 1500, workers: [{ capacity: null, servedRate: 1000 }] }),
    ).toBe(2);
    // exactly enough is enough
    expect(
      workersNeeded({ demandRate: 2000, totalJobs: 2000, workers: [{ capacity: null, servedRate: 1000 }] }),
    ).toBe(2);
    expect(
      workersNeeded({
        demandRate: 4500,
        totalJobs: 4500,
        workers: [
          { capacity: null, servedRate: 1000 },
          { capacity: null, servedRate: 2000 },
          { capacity: null, servedRate: null },
        ],
      }),
    ).toBe(3);
  });

  it('falls back to capacities, then to the live workers; 0 without work', () => {
    expect(
      workersNeeded({
        demandRate: 50,
        totalJobs: 50,
        workers: [
          { capacity: 10, servedRate: null },
          { capacity: 10, servedRate: null },
        ],
      }),
    ).toBe(5);
    expect(
      workersNeeded({
        demandRate: 50,
        totalJobs: 50,
        workers: [
          { capacity: 10, servedRate: null },
          { capacity: null, servedRate: null },
        ],
      }),
    ).toBe(2);
    expect(workersNeeded({ demandRate: 0, totalJobs: 0, workers: [{ capacity: null, servedRate: 5 }] })).toBe(
      0,
    );
  });
});

describe('cluster signals as CloudWatch metrics', () => {
  it('three Count metrics under the Cluster dimension, in the configured namespace', () => {
    const item = clusterMetricItem(
      'prod',
      { jobsWaiting: 12, spareCapacity: -1, workersNeeded: 3 },
      Date.UTC(2026, 0, 1, 0, 0, 30),
      { namespace: 'Ops/Watcher' } as never,
    );
    const [req] = buildMetricRequests([item]);
    expect(req?.namespace).toBe('Ops/Watcher');
    const byName = new Map(req?.data.map((d) => [d.MetricName, d]));
    expect([...byName.keys()].sort()).toEqual(['JobsWaiting', 'SpareCapacity', 'WorkersNeeded']);
    for (const d of byName.values()) {
      expect(d.Dimensions).toEqual([{ Name: 'Cluster', Value: 'prod' }]);
      expect(d.Unit).toBe('Count');
    }
    expect(byName.get('WorkersNeeded')?.Values).toEqual([3]);
    expect(byName.get('SpareCapacity')?.Values).toEqual([-1]);
  });
});
