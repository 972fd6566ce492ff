/**
 * A maintenance window in a real worker process: inside it the endpoint is still checked (results,
 * metrics, status carry `maintenance: true`) but its DOWN change reaches no sink, while an endpoint
 * without a window, failing the same way, alerts as usual (webhook and EventBridge).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudWatchDouble } from '../support/doubles/cloudwatch-double.js';
import { EventBridgeDouble } from '../support/doubles/eventbridge-double.js';
import { HttpDouble } from '../support/doubles/http-double.js';
import { killAllSpawned, spawnWorker, type WorkerProcess } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';

describe('maintenance window in watcher run', () => {
  let target: Target;
  let eb: EventBridgeDouble;
  let cw: CloudWatchDouble;
  let hook: HttpDouble;
  let dir: string;
  let worker: WorkerProcess;
  let held: string;
  let plain: string;

  beforeAll(async () => {
    target = await startTarget();
    eb = await EventBridgeDouble.start();
    cw = await CloudWatchDouble.start();
    hook = await new HttpDouble(() => ({ status: 200, body: '{}' })).start();
    dir = mkdtempSync(join(tmpdir(), 'watcher-maint-'));
    const host = target.url.replace('http://', '');
    held = `${host}/status/503`;
    plain = `${host}/status/500`;
    const from = new Date(Date.now() - 60_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    writeFileSync(
      join(dir, 'm.yml'),
      [
        'defaults:',
        '  scheme: http',
        '  interval: 1s',
        `  post_endpoint: ${hook.url}/alerts`,
        '  post_json_info: { title: "{endpoint} is {state}" }',
        '  post_service: aws-cloudwatch',
        '  aws_region: us-east-1',
        '  data_source: watcher.maint',
        '  data_detail_type: health',
        `${held}:`,
        '  maintenance:',
        `    - { from: "${from}", to: "${to}" }`,
        '    - { cron: "0 3 * * SUN", duration: 1h, timezone: Europe/Paris }',
        `${plain}: {}`,
        '',
      ].join('\n'),
    );
    worker = await spawnWorker({
      id: 'maint',
      etcd: [],
      endpointsDir: dir,
      extraArgs: ['--threads', '1'],
      env: {
        AWS_ENDPOINT_URL_CLOUDWATCH: cw.url,
        AWS_ENDPOINT_URL_EVENTBRIDGE: eb.url,
        AWS_ACCESS_KEY_ID: 'AKIDTEST',
        AWS_SECRET_ACCESS_KEY: 'secret',
        AWS_REGION: 'us-east-1',
      },
    });
    await worker.waitReady(15_000, '/readyz');
  });

  afterAll(async () => {
    await killAllSpawned();
    await Promise.all([target?.close(), eb?.close(), cw?.close(), hook?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('checks go on and are marked; the DOWN change is held from every sink; the other endpoint alerts', async () => {
    const alertsFor = (name: string) =>
      hook.requests.filter((r) => r.body.toString().includes(`${name} is DOWN`));
    await waitFor(() => alertsFor(plain).length > 0, {
      timeoutMs: 15_000,
      message: 'webhook DOWN of the plain endpoint',
    });
    await waitFor(() => eb.entries.some((e) => JSON.parse(e.Detail).endpoint === plain), {
      timeoutMs: 15_000,
      message: 'EventBridge DOWN of the plain endpoint',
    });
    type Doc = {
      endpoints: Array<{
        name: string;
        state: string;
        maintenance: boolean;
        last: { maintenance?: boolean } | null;
      }>;
    };
    // the held endpoint went DOWN too (its state moved) and went on being checked
    const checked = async () => {
      const m = (await worker.http('/metrics')).body;
      const line = m
        .split('\n')
        .find((l) => l.startsWith('watcher_checks_total') && l.includes(held) && l.includes('failure'));
      return line ? Number(line.split(' ').at(-1)) : 0;
    };
    await waitFor(async () => (await checked()) >= 4, {
      timeoutMs: 15_000,
      message: 'four checks of the held endpoint',
    });
    const doc = (await worker.http('/api/v1/status?scope=local')).json<Doc>();
    const e = doc.endpoints.find((x) => x.name === held)!;
    expect(e).toMatchObject({ state: 'DOWN', maintenance: true, last: { maintenance: true } });
    expect(doc.endpoints.find((x) => x.name === plain)).toMatchObject({ state: 'DOWN', maintenance: false });
    const metrics = (await worker.http('/metrics')).body;
    expect(metrics).toMatch(
      new RegExp(
        `watcher_endpoint_in_maintenance\\{endpoint="${held.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"\\} 1`,
      ),
    );
    expect(metrics).toMatch(/watcher_alerts_held_total\{reason="maintenance"\} 1/);
    expect(alertsFor(held)).toEqual([]);
    expect(eb.entries.filter((x) => JSON.parse(x.Detail).endpoint === held)).toEqual([]);
    const log = worker.logs().find((r) => r.endpoint === held && r.to === 'DOWN');
    expect(log).toMatchObject({ maintenance: true });
  });
});
