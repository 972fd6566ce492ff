/**
 * docker/k8s/: parsed and checked (no Kubernetes cluster here): every manifest is well-formed
 * YAML with apiVersion/kind/metadata.name, kustomization lists them all, the Deployment has
 * what a graceful, observable worker needs, its probe paths answer on a real status server,
 * and the ConfigMap's endpoint files pass the loader.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseFile } from '../../src/config/index.js';
import { createMetrics } from '../../src/metrics.js';
import { silentLogger } from '../../src/model/logger.js';
import { createEventStreams } from '../../src/server/event-stream.js';
import { startStatusServer } from '../../src/server/status-server.js';

const DIR = join(import.meta.dirname, '../../docker/k8s');
// biome-ignore lint/suspicious/noExplicitAny: free-form manifests, read field by field
type Doc = Record<string, any>;

const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));
const docs: { file: string; doc: Doc }[] = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return { file, doc: d.toJS() as Doc };
  }),
);
const find = (kind: string, name: string) => {
  const d = docs.find((x) => x.doc.kind === kind && x.doc.metadata?.name === name)?.doc;
  if (!d) throw new Error(`no ${kind}/${name} in docker/k8s`);
  return d;
};
const deployment = find('Deployment', 'watcher');
const pod = deployment.spec.template.spec;
const container = pod.containers.find((c: Doc) => c.name === 'watcher');
const envOf = (c: Doc) => Object.fromEntries((c.env ?? []).map((e: Doc) => [e.name, e.value ?? e.valueFrom]));

describe('docker/k8s manifests', () => {
  it('parse; every object has apiVersion, kind and a name; kustomization lists every file', () => {
    expect(docs.length).toBeGreaterThanOrEqual(8);
    for (const { file, doc } of docs) {
      expect(doc.apiVersion, file).toBeTruthy();
      expect(doc.kind, file).toBeTruthy();
      if (doc.kind !== 'Kustomization') expect(doc.metadata?.name, file).toBeTruthy();
    }
    const k = docs.find((d) => d.doc.kind === 'Kustomization')!.doc;
    expect([...k.resources].sort()).toEqual(files.filter((f) => f !== 'kustomization.yaml').sort());
  });

  it('Deployment: selector matches the pods, probes on /readyz and /healthz at the listen port', () => {
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
    const env = envOf(container);
    const listenPort = Number(String(env.WATCHER_LISTEN).split(':').at(-1));
    const httpPort = container.ports.find((p: Doc) => p.name === 'http');
    expect(httpPort.containerPort).toBe(listenPort);
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(env.WATCHER_ETCD).toMatch(/^http:\/\/etcd-0\.etcd:2379,/);
    expect(env.WATCHER_ID).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    expect(env.POD_IP).toEqual({ fieldRef: { fieldPath: 'status.podIP' } });
    expect(env.WATCHER_ADVERTISE).toBe(`$(POD_IP):${listenPort}`); // peers cannot reach 0.0.0.0
  });

  it('Deployment: preStop, a grace period longer than preStop + the worker’s bounded stop, resources', () => {
    const preStop = container.lifecycle.preStop.exec.command.join(' ');
    const preStopS = Number(/setTimeout\(\(\) => \{\}, (\d+)\)/.exec(preStop)?.[1]) / 1000;
    expect(preStopS).toBeGreaterThan(0);
    // app.ts STOP_GRACE_MS is 10 s (drain + sinks), plus the jobset release/handover
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStopS + 10 + 15);
    expect(container.resources.requests.cpu).toBeTruthy();
    expect(container.resources.requests.memory).toMatch(/^\d+Mi$/);
    expect(Number.parseInt(container.resources.requests.memory, 10)).toBeGreaterThanOrEqual(160); // bench RSS
    expect(container.resources.limits.memory).toBeTruthy();
  });

  it('Secret with the API keys reaches the workers; ConfigMap mounted as the endpoints dir', () => {
    const secret = find('Secret', 'watcher-secrets');
    for (const k of ['DD_API_KEY', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'WATCHER_HTTP_TOKEN'])
      expect(secret.stringData).toHaveProperty(k);
    expect(container.envFrom).toContainEqual({ secretRef: { name: 'watcher-secrets' } });
    const vol = pod.volumes.find((v: Doc) => v.configMap?.name === 'watcher-endpoints');
    const mount = container.volumeMounts.find((m: Doc) => m.name === vol.name);
    expect(mount.mountPath).toBe(envOf(container).WATCHER_ENDPOINTS_DIR);
  });

  it('the ConfigMap’s endpoint files are valid', () => {
    const cm = find('ConfigMap', 'watcher-endpoints');
    const names = Object.keys(cm.data);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      expect(name).toMatch(/\.ya?ml$/);
      const parsed = parseFile(cm.data[name], name, { env: {} });
      expect(parsed.problems, name).toEqual([]);
      expect(parsed.endpoints.length, name).toBeGreaterThan(0);
    }
  });

  it('PodDisruptionBudgets for the workers and etcd; etcd with volumes and the documented flags', () => {
    expect(find('PodDisruptionBudget', 'watcher').spec.selector.matchLabels).toEqual(
      deployment.spec.selector.matchLabels,
    );
    expect(find('PodDisruptionBudget', 'etcd').spec.minAvailable).toBe(2);
    const etcd = find('StatefulSet', 'etcd');
    const c = etcd.spec.template.spec.containers[0];
    expect(c.image).toMatch(/@sha256:[0-9a-f]{64}$/);
    for (const flag of [
      '--auto-compaction-mode=periodic',
      '--auto-compaction-retention=1h',
      '--grpc-keepalive-min-time=2s',
    ])
      expect(c.command).toContain(flag);
    expect(etcd.spec.volumeClaimTemplates[0].metadata.name).toBe(c.volumeMounts[0].name);
  });

  it('the probe paths answer 200 on a real status server (ready once config and lease are there)', async () => {
    let ready = false;
    const server = await startStatusServer({
      host: '127.0.0.1',
      port: 0,
      token: 'secret-token',
      registry: createMetrics({ defaultMetrics: false }).registry,
      ready: () => ({ ready, reasons: ready ? [] : ['config not loaded'] }),
      status: () => ({}),
      events: createEventStreams({ selfId: 'k8s-test' }),
      logger: silentLogger,
    });
    try {
      const get = async (path: string) =>
        (await fetch(`http://127.0.0.1:${server.port}${path}`, { signal: AbortSignal.timeout(2000) })).status;
      expect(await get(container.livenessProbe.httpGet.path)).toBe(200);
      expect(await get(container.readinessProbe.httpGet.path)).toBe(503);
      ready = true;
      expect(await get(container.readinessProbe.httpGet.path)).toBe(200);
    } finally {
      await server.close();
    }
  });
});
