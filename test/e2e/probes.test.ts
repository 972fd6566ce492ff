/**
 * tcp, tls and dns endpoints in a built `watcher run` (standalone, one check thread), configured
 * only through an endpoints file: their phases and certificate expiry reach /metrics and
 * /api/v1/status, and a certificate expiry alert reaches every sink (webhook, Datadog,
 * CloudWatch, EventBridge) with the certificate values in its templates.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudWatchDouble } from '../support/doubles/cloudwatch-double.js';
import { DatadogDouble } from '../support/doubles/datadog-double.js';
import { EventBridgeDouble } from '../support/doubles/eventbridge-double.js';
import { HttpDouble } from '../support/doubles/http-double.js';
import { type DnsTarget, startDnsTarget, startTcpTarget, type TcpTarget } from '../support/probe-targets.js';
import { killAllSpawned, spawnWorker, type WorkerProcess } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';

const DD_KEY = 'dd-probes-key-0123456789abcdef';

interface Status {
  endpoints: {
    name: string;
    state: string;
    last: { error: string | null; values: Record<string, string>; timings?: Record<string, number> } | null;
  }[];
}

describe('probes wired into watcher run', () => {
  let tcp: TcpTarget;
  let tlsTarget: Target;
  let dns: DnsTarget;
  let dd: DatadogDouble;
  let cw: CloudWatchDouble;
  let eb: EventBridgeDouble;
  let hook: HttpDouble;
  let dir: string;
  let worker: WorkerProcess;
  let tcpName: string;
  let tlsName: string;

  beforeAll(async () => {
    [tcp, tlsTarget, dns] = await Promise.all([
      startTcpTarget('accept'),
      startTarget({ tls: true }),
      startDnsTarget(),
    ]);
    dd = await DatadogDouble.start({ apiKey: DD_KEY });
    cw = await CloudWatchDouble.start();
    eb = await EventBridgeDouble.start();
    hook = await new HttpDouble(() => ({ status: 200, body: '{}' })).start();
    dir = mkdtempSync(join(tmpdir(), 'watcher-probes-e2e-'));
    tcpName = `127.0.0.1:${tcp.port}`;
    tlsName = `127.0.0.1:${tlsTarget.port}`;
    writeFileSync(
      join(dir, 'probes.yml'),
      [
        'defaults:',
        '  interval: 1s',
        '  timeout: 2s',
        `${tcpName}:`,
        '  probe: tcp',
        '  send: "PING\\r\\n"',
        '  expect: PONG',
        `${tlsName}:`,
        '  probe: tls',
        '  tls_verify: false',
        '  success_test:',
        '    - { cert_expiry_days: { op: ">", value: 3650 } }',
        `  post_endpoint: ${hook.url}/alert`,
        '  post_json_info:',
        '    title: "{endpoint} is {state}"',
        '    text: "certificate expires in {cert_expiry_days} days ({reason})"',
        '  datadog:',
        `    api_key: ${DD_KEY}`,
        `    url: ${dd.url}`,
        '  post_service: aws-cloudwatch',
        '  aws_region: us-east-1',
        '  data_source: watcher.probes',
        '  data_detail_type: certificate',
        '  data_details_json:',
        '    - cert_days: "{cert_expiry_days}"',
        'ok.test:',
        '  probe: dns',
        `  server: 127.0.0.1:${dns.port}`,
        '  success_test: { answers: { op: contains, value: 203.0.113.7 } }',
        '',
      ].join('\n'),
    );
    worker = await spawnWorker({
      id: 'probes',
      etcd: [],
      endpointsDir: dir,
      extraArgs: ['--threads', '1'],
      env: {
        AWS_ENDPOINT_URL_CLOUDWATCH: cw.url,
        AWS_ENDPOINT_URL_EVENTBRIDGE: eb.url,
        AWS_ACCESS_KEY_ID: 'AKIDTEST',
        AWS_SECRET_ACCESS_KEY: 'aws-secret-probes-0123456789',
        AWS_REGION: 'us-east-1',
      },
    });
    await worker.waitReady(15_000, '/readyz');
  }, 30_000);

  afterAll(async () => {
    await killAllSpawned();
    await Promise.all([
      tcp?.close(),
      tlsTarget?.close(),
      dns?.close(),
      dd?.close(),
      cw?.close(),
      eb?.close(),
      hook?.close(),
    ]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('each probe reports its state, values and phases in /api/v1/status', async () => {
    const status = await waitFor(
      async () => {
        const s = (await worker.http('/api/v1/status')).json<Status>();
        const done = s.endpoints.length === 3 && s.endpoints.every((e) => e.state !== 'UNKNOWN');
        return done ? s : null;
      },
      { timeoutMs: 15_000, message: 'three endpoints with a verdict' },
    );
    const by = new Map(status.endpoints.map((e) => [e.name, e]));
    expect(by.get(tcpName)!.state).toBe('UP');
    expect(by.get(tcpName)!.last!.timings?.connect_ms).toBeGreaterThanOrEqual(0);
    expect(by.get('ok.test')!.state).toBe('UP');
    expect(by.get('ok.test')!.last!.values.answers).toBe('203.0.113.7, 203.0.113.8');
    const tls = by.get(tlsName)!;
    expect(tls.state).toBe('DOWN');
    expect(tls.last!.error).toMatch(/^test: cert_expiry_days == -?\d+\.\d, expected > 3650$/);
    expect(tls.last!.values.cert_subject).toContain('CN=');
  });

  it('exposes watcher_check_phase_seconds per phase and watcher_tls_cert_expiry_seconds per endpoint', async () => {
    const text = await waitFor(
      async () => {
        const t = (await worker.http('/metrics')).body;
        return t.includes('watcher_tls_cert_expiry_seconds{') && t.includes('phase="tls"') ? t : null;
      },
      { timeoutMs: 10_000, message: 'probe metrics' },
    );
    expect(text).toMatch(new RegExp(`watcher_tls_cert_expiry_seconds\\{endpoint="${tlsName}"\\} -?\\d+`));
    for (const phase of ['dns', 'connect', 'tls', 'first_byte']) {
      expect(text).toMatch(new RegExp(`watcher_check_phase_seconds_count\\{phase="${phase}"\\} [1-9]`));
    }
  });

  it('sends the certificate expiry alert to the webhook, Datadog, CloudWatch and EventBridge', async () => {
    const alert = await waitFor(() => hook.requests.find((r) => r.path.startsWith('/alert')), {
      timeoutMs: 10_000,
      message: 'webhook alert',
    });
    const body = JSON.parse(alert.body.toString()) as { title: string; text: string };
    expect(body.title).toBe(`${tlsName} is DOWN`);
    expect(body.text).toMatch(/^certificate expires in -?\d+\.\d days \(test: cert_expiry_days == /);
    const event = await waitFor(() => dd.events.find((e) => e.aggregation_key === tlsName), {
      timeoutMs: 10_000,
      message: 'Datadog event',
    });
    expect(event.text).toContain('cert_expiry_days');
    await waitFor(() => dd.checks.some((c) => c.host_name === tlsName && c.status === 2), {
      timeoutMs: 10_000,
      message: 'CRITICAL service check',
    });
    await waitFor(
      () =>
        cw.puts.some((p) =>
          p.MetricData.some((d) => d.Dimensions?.some((x) => x.Name === 'Endpoint' && x.Value === tlsName)),
        ),
      { timeoutMs: 10_000, message: 'CloudWatch metric for the tls endpoint' },
    );
    const entry = await waitFor(() => eb.entries.find((e) => e.Source === 'watcher.probes'), {
      timeoutMs: 10_000,
      message: 'EventBridge entry',
    });
    const detail = JSON.parse(entry.Detail) as Record<string, unknown>;
    expect(detail.state).toBe('DOWN');
    expect(String(detail.cert_days)).toMatch(/^-?\d+\.\d$/);
  });
});
