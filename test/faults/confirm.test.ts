/**
 * Second opinion before DOWN (issue 14 points 2–3) with real etcd and worker processes.
 *
 * Each worker reaches the target through its OWN TCP proxy: every endpoint answers its first hop
 * with a redirect to `http://127.0.0.1:${ROUTE}/final/...`, where ROUTE (the `x-route` header, from
 * the worker's environment through `${ROUTE}`) is that worker's proxy. All workers read the same
 * endpoint files; cutting one proxy cuts one worker's route to the target, as a broken network
 * path would, and nobody else's.
 *
 * - route of the owner of `/a` (confirm: 1) cut → no DOWN anywhere, its results are
 *   `unconfirmed`, `self` hears which worker cannot reach what, and `/a` moves to another worker
 *   that checks it fine;
 * - a real outage (`/final/a` answers 503 for everybody) → DOWN within failure_threshold + one
 *   confirmation round, confirmed by another worker;
 * - `/off` (confirm off) failing for everybody → DOWN, and not one key written under `verify/`.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { killAllSpawned, removeOnExit, spawnWorker, type WorkerProcess } from '../support/processes.js';
import { startProxy, type TcpProxy } from '../support/proxy.js';
import { waitFor } from '../support/wait.js';

const IDS = ['w1', 'w2', 'w3'];
const THRESHOLD = 2;
const INTERVAL_MS = 1000;
/** timeout 1 s + the confirmer's slack (1.5 s) */
const ROUND_MS = 2500;

let etcd: EtcdCluster;
let target: Server;
let targetPort = 0;
const status = new Map<string, number>();
const proxies = new Map<string, TcpProxy>();
const workers = new Map<string, WorkerProcess>();
let client: Etcd3;
const verifyPuts: Array<{ at: number; key: string }> = [];
let A = '';
let OFF = '';

beforeAll(async () => {
  etcd = await startEtcdCluster({ members: 1 });
  target = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path.startsWith('/final/')) {
      const s = status.get(path) ?? 200;
      res.writeHead(s, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: s === 200 ? 'ok' : 'failing' }));
      return;
    }
    res.writeHead(307, { location: `http://127.0.0.1:${String(req.headers['x-route'])}/final${path}` });
    res.end();
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  targetPort = (target.address() as AddressInfo).port;
  A = `127.0.0.1:${targetPort}/a`;
  OFF = `127.0.0.1:${targetPort}/off`;
  const dir = await mkdtemp(join(tmpdir(), 'watcher-confirm-'));
  removeOnExit(dir);
  await writeFile(
    join(dir, 'confirm.yml'),
    [
      'defaults:',
      '  scheme: http',
      '  interval: 1s',
      '  timeout: 1s',
      '  follow_redirects: true',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the worker expands ${ROUTE}
      '  headers: { x-route: "${ROUTE}" }',
      `  alert: { failure_threshold: ${THRESHOLD} }`,
      `${A}:`,
      '  confirm: 1',
      `${OFF}: {}`,
      '',
    ].join('\n'),
  );
  client = new Etcd3(etcd.clientOptions());
  const w = await client.watch().prefix('/watcher/default/verify/').create();
  w.on('put', (kv) => verifyPuts.push({ at: Date.now(), key: kv.key.toString() }));
  for (const id of IDS) {
    const p = await startProxy({ host: '127.0.0.1', port: targetPort });
    proxies.set(id, p);
    workers.set(
      id,
      await spawnWorker({
        id,
        etcd: etcd.clientUrls,
        endpointsDir: dir,
        leaseTtl: 3,
        env: { ROUTE: String(p.port) },
      }),
    );
  }
  for (const p of workers.values()) await p.waitReady(20_000, '/readyz');
}, 90_000);

afterAll(async () => {
  client?.close();
  await killAllSpawned();
  for (const p of proxies.values()) await p.close();
  target?.closeAllConnections();
  await new Promise((r) => target?.close(r));
  await etcd?.close();
});

interface LocalDoc {
  endpoints: Array<{ name: string; state: string; last: { ok: boolean } | null }>;
}

async function ownerOf(name: string): Promise<string | null> {
  for (const [id, p] of workers) {
    const doc = (await p.http('/api/v1/status?scope=local')).json<LocalDoc>();
    if (doc.endpoints.some((e) => e.name === name)) return id;
  }
  return null;
}

async function stateAt(id: string, name: string): Promise<string | undefined> {
  const doc = (await workers.get(id)!.http('/api/v1/status?scope=local')).json<LocalDoc>();
  return doc.endpoints.find((e) => e.name === name)?.state;
}

/**
 * Ownership quiet: no planned move in etcd and the owners of both endpoints unchanged for
 * `quietMs`. Right after the workers joined, the admin still spreads the jobsets: a move then
 * would look like the confirmation's move away.
 */
async function waitQuiet(quietMs = 3000): Promise<void> {
  let sig = '';
  let since = 0;
  await waitFor(
    async () => {
      const moves = await client.getAll().prefix('/watcher/default/moves/').count();
      const next = `${await ownerOf(A)}|${await ownerOf(OFF)}`;
      if (moves > 0 || next.includes('null')) {
        sig = '';
        return false;
      }
      if (next !== sig) {
        sig = next;
        since = Date.now();
      }
      return Date.now() - since >= quietMs;
    },
    { timeoutMs: 30_000, intervalMs: 200, message: 'ownership quiet (no move, same owners)' },
  );
}

const allLogs = () => [...workers.values()].flatMap((p) => p.logs());
const downLogs = (name: string) => allLogs().filter((r) => r.msg === 'endpoint DOWN' && r.endpoint === name);
const selfEvents = (kind: string) => allLogs().filter((r) => r.msg === 'self event' && r.kind === kind);

describe('confirm: 1 (second opinion before DOWN)', () => {
  it('a worker whose route to the target is cut raises no DOWN, tells self, and the endpoint moves', async () => {
    const upEverywhere = async () => {
      const owner = await ownerOf(A);
      return owner && (await stateAt(owner, A)) === 'UP' ? owner : null;
    };
    await waitQuiet();
    const cutWorker = await waitFor(upEverywhere, { timeoutMs: 20_000, message: `${A} owned and UP` });
    const putsBefore = verifyPuts.length;
    await proxies.get(cutWorker)!.cut('refuse');
    try {
      await cutRouteOf(cutWorker, putsBefore);
    } finally {
      await proxies.get(cutWorker)!.heal();
    }
  }, 90_000);

  async function cutRouteOf(cutWorker: string, putsBefore: number): Promise<void> {
    const moved = await waitFor(
      async () => {
        const o = await ownerOf(A);
        return o && o !== cutWorker ? o : null;
      },
      { timeoutMs: 20_000, message: `${A} moved away from ${cutWorker}` },
    );
    // the new owner checks it fine, and nobody ever called it DOWN
    await waitFor(async () => (await stateAt(moved, A)) === 'UP', {
      timeoutMs: 10_000,
      message: `${A} UP on ${moved}`,
    });
    const cutLogs = workers.get(cutWorker)!.logs();
    const unconfirmed = cutLogs.filter((r) => r.msg?.toString().includes(`cannot reach ${A}`));
    expect(unconfirmed.length).toBeGreaterThanOrEqual(3);
    expect(downLogs(A)).toEqual([]);
    expect(selfEvents('check_unconfirmed').some((e) => e.worker === cutWorker)).toBe(true);
    const movedEvent = selfEvents('endpoint_moved_away').find((e) => e.worker === cutWorker);
    expect(movedEvent).toBeDefined();
    // etcd: 2 keys (request + answer) per DOWN candidate, nothing else under verify/
    const puts = verifyPuts.slice(putsBefore);
    const requests = puts.filter((p) => p.key.includes('/q/')).length;
    const answers = puts.filter((p) => p.key.includes('/a/')).length;
    expect(requests).toBeGreaterThanOrEqual(3);
    expect(requests).toBeLessThanOrEqual(unconfirmed.length + 1);
    expect(answers).toBeLessThanOrEqual(requests);
    // still no DOWN a few checks later on the new owner
    const okAt = Date.now();
    await waitFor(async () => Date.now() - okAt > 3 * INTERVAL_MS && (await stateAt(moved, A)) === 'UP', {
      timeoutMs: 10_000,
      message: `${A} stays UP`,
    });
    expect(downLogs(A)).toEqual([]);
  }

  it('a real outage (target failing for everybody) goes DOWN within failure_threshold + one round', async () => {
    const owner = (await ownerOf(A))!;
    expect(await stateAt(owner, A)).toBe('UP');
    const t0 = Date.now();
    status.set('/final/a', 503);
    const down = await waitFor(() => downLogs(A)[0], {
      timeoutMs: THRESHOLD * INTERVAL_MS + ROUND_MS + 5000,
      message: `${A} DOWN`,
    });
    const tookMs = (typeof down.time === 'string' ? Date.parse(down.time) : Number(down.time)) - t0;
    console.log(`real outage: DOWN ${tookMs} ms after the target failed`);
    // THRESHOLD failures need up to THRESHOLD intervals (+ one for the phase), then one round
    expect(tookMs).toBeLessThanOrEqual((THRESHOLD + 1) * INTERVAL_MS + ROUND_MS);
    expect(downLogs(A)).toHaveLength(1);
    expect(down.confirm).toBe('confirmed');
    expect(IDS).toContain(down.confirm_by);
    expect(down.confirm_by).not.toBe(down.worker);
  }, 30_000);

  it('confirm off: DOWN as before, and nothing written under verify/', async () => {
    const owner = await waitFor(() => ownerOf(OFF), { timeoutMs: 10_000, message: `${OFF} owned` });
    await waitFor(async () => (await stateAt(owner, OFF)) === 'UP', {
      timeoutMs: 10_000,
      message: `${OFF} UP`,
    });
    const putsBefore = verifyPuts.length;
    const downsBefore = downLogs(OFF).length;
    status.set('/final/off', 503);
    await waitFor(() => downLogs(OFF).length > downsBefore, { timeoutMs: 10_000, message: `${OFF} DOWN` });
    expect(downLogs(OFF).at(-1)!.confirm).toBeUndefined();
    // a few more failing checks of both endpoints (both DOWN now: no candidates)
    const from = Date.now();
    await waitFor(() => Date.now() - from > 3 * INTERVAL_MS, { timeoutMs: 5000, message: 'three checks' });
    expect(verifyPuts.slice(putsBefore)).toEqual([]);
  }, 30_000);
});
