/**
 * A whole watcher cluster for fault tests, made of real processes: an etcd cluster (1 or 3
 * members), N `watcher run --etcd` workers, each talking to etcd through its own TCP proxies (one
 * per member, so a worker can be cut off alone), and a local HTTP target that records every check
 * with its slot. All workers read the same endpoints folder (whoever is admin reconciles it).
 *
 * Ownership is read straight from etcd (HTTP/JSON gateway, 1 s deadline per call), and checks are
 * counted per (endpoint, slot) by a SlotLedger over the target's hit log.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EtcdCluster, httpJson, prefixEnd, startEtcdCluster } from './etcd.js';
import { freePort, killAllSpawned, removeOnExit, spawnWorker, type WorkerProcess } from './processes.js';
import { type ProxyGroup, startProxies } from './proxy.js';
import { type LedgerEndpoint, SlotLedger, type WindowReport } from './slot-ledger.js';
import { startTarget, type Target } from './target.js';
import { waitFor } from './wait.js';

export type PartitionMode = 'continue' | 'pause';

export interface FaultWorkerSpec {
  id: string;
  onPartition?: PartitionMode;
}

export interface FaultClusterOptions {
  etcdMembers: 1 | 3;
  workers: FaultWorkerSpec[];
  /** endpoints checked every second [36] */
  endpoints?: number;
  /** --lease-ttl of every worker, seconds */
  leaseTtl: number;
  /** a restarted worker listens on the port it had (as in a container); default: a new free port */
  samePorts?: boolean;
}

export interface FaultWorker {
  readonly spec: FaultWorkerSpec;
  readonly proxies: ProxyGroup;
  /** status server address kept across restarts (samePorts) */
  readonly listen?: string | undefined;
  /** the current (or last) process */
  proc: WorkerProcess;
  /** one results file per incarnation */
  readonly resultsFiles: string[];
}

export interface ClusterView {
  revision: number;
  /** registered (live) workers: id → lease */
  workers: Map<string, string>;
  admin: string | null;
  /** jobset → owner (null: free or released) and whether the owner key is under the owner's live lease */
  jobsets: Map<string, { owner: string | null; live: boolean; jobs: string[] }>;
  moves: number;
  /** endpoint name → owning worker (null when free) */
  ownerOf: Map<string, string | null>;
}

export interface FaultCluster {
  readonly etcd: EtcdCluster;
  readonly target: Target;
  readonly ledger: SlotLedger;
  readonly endpoints: readonly LedgerEndpoint[];
  readonly ttlMs: number;
  worker(id: string): FaultWorker;
  /** Starts (or restarts) a worker and waits until /readyz answers 200. */
  startWorker(id: string): Promise<WorkerProcess>;
  /** One consistent read of the coordination keys. */
  view(): Promise<ClusterView>;
  /** Target paths of the endpoints `id` owns now. */
  pathsOwnedBy(id: string): Promise<string[]>;
  /**
   * Waits until every jobset is owned by a registered worker under its live lease, no move is
   * pending, the registered workers are exactly `workers` (default: every running worker), and
   * each of them owns at least one jobset (a worker that just (re)joined has received work).
   */
  waitOwnershipSettled(timeoutMs: number, workers?: string[], quietMs?: number): Promise<ClusterView>;
  /**
   * waitOwnershipSettled, and no owner changed for `quietMs` [2500]: rebalancing has finished, so
   * no planned move is in flight when a fault starts. (A move handed to a worker that is cut off
   * or dies right then is lost until that worker's lease expires, like the work of a crash.)
   */
  waitQuiet(timeoutMs: number, workers?: string[], quietMs?: number): Promise<ClusterView>;
  /** Waits until every endpoint was checked for a slot at or after `slot`. */
  waitSlotsSeen(slot: number, timeoutMs: number): Promise<void>;
  /** Slot accounting of [from, to) plus who checked the duplicated slots (for failure messages). */
  measure(from: number, to: number): Promise<WindowReport & { explain(): Promise<string> }>;
  /** Tails of the worker logs and the current view, for failure messages. */
  diagnostics(): Promise<string>;
  close(): Promise<void>;
}

const PREFIX = '/watcher/default/';

export async function startFaultCluster(opts: FaultClusterOptions): Promise<FaultCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'watcher-faults-'));
  removeOnExit(dir);
  const count = opts.endpoints ?? 36;
  let etcd: EtcdCluster | undefined;
  let target: Target | undefined;
  const workers = new Map<string, FaultWorker>();
  const closeAll = async (): Promise<void> => {
    await Promise.all([...workers.values()].map((w) => w.proc?.stop(5000).catch(() => undefined)));
    await killAllSpawned();
    await Promise.all([...workers.values()].map((w) => w.proxies.close()));
    await target?.close();
    await etcd?.close();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    [etcd, target] = await Promise.all([startEtcdCluster({ members: opts.etcdMembers }), startTarget()]);
    const host = `127.0.0.1:${target.port}`;
    const endpoints: LedgerEndpoint[] = Array.from({ length: count }, (_, i) => {
      const path = `/count/e${String(i).padStart(2, '0')}`;
      return { name: `${host}${path}`, path };
    });
    const endpointsDir = join(dir, 'endpoints.d');
    await mkdir(endpointsDir);
    await writeFile(
      join(endpointsDir, 'faults.yml'),
      endpoints.map((e) => `${e.name}:\n  scheme: http\n  interval: 1s\n  timeout: 2s\n`).join(''),
    );
    const ledger = new SlotLedger(target.hitLog, endpoints, 1000);
    const etcdRef = etcd;
    const targetRef = target;

    const spawn = async (
      w:
        | FaultWorker
        | { spec: FaultWorkerSpec; proxies: ProxyGroup; resultsFiles: string[]; listen?: string | undefined },
    ) => {
      const resultsFile = join(dir, `results-${w.spec.id}-${w.resultsFiles.length}.jsonl`);
      w.resultsFiles.push(resultsFile);
      return spawnWorker({
        id: w.spec.id,
        ...(w.listen ? { listen: w.listen } : {}),
        etcd: w.proxies.urls,
        endpointsDir,
        leaseTtl: opts.leaseTtl,
        resultsFile,
        extraArgs: ['--on-partition', w.spec.onPartition ?? 'continue', '--threads', '1'],
      });
    };

    const pending = await Promise.all(
      opts.workers.map(async (spec) => {
        const proxies = await startProxies(etcdRef.clientUrls);
        const listen = opts.samePorts ? `127.0.0.1:${await freePort()}` : undefined;
        const w = { spec, proxies, resultsFiles: [] as string[], listen };
        const proc = await spawn(w);
        const fw: FaultWorker = Object.assign(w, { proc });
        workers.set(spec.id, fw);
        return fw;
      }),
    );
    await Promise.all(pending.map((w) => w.proc.waitReady(30_000, '/readyz')));

    const rangeAll = async (): Promise<{
      rev: number;
      kvs: Array<{ key: string; value: string; lease: string }>;
    }> => {
      let lastErr: unknown;
      for (const url of etcdRef.members.filter((m) => m.running).map((m) => m.clientUrl)) {
        try {
          const res = await httpJson(`${url}/v3/kv/range`, {
            key: Buffer.from(PREFIX).toString('base64'),
            range_end: prefixEnd(PREFIX).toString('base64'),
            serializable: false,
          });
          if (res.status !== 200) throw new Error(`range → ${res.status}`);
          const body = res.body as {
            header: { revision: string };
            kvs?: Array<{ key: string; value: string; lease?: string }>;
          };
          return {
            rev: Number(body.header.revision),
            kvs: (body.kvs ?? []).map((kv) => ({
              key: Buffer.from(kv.key, 'base64').toString('utf8'),
              value: Buffer.from(kv.value ?? '', 'base64').toString('utf8'),
              lease: kv.lease ?? '0',
            })),
          };
        } catch (err) {
          lastErr = err;
        }
      }
      throw new Error(`no etcd member answered a range: ${String(lastErr)}`);
    };

    const view = async (): Promise<ClusterView> => {
      const { rev, kvs } = await rangeAll();
      const v: ClusterView = {
        revision: rev,
        workers: new Map(),
        admin: null,
        jobsets: new Map(),
        moves: 0,
        ownerOf: new Map(),
      };
      const owners = new Map<string, { owner: string | null; lease: string }>();
      for (const kv of kvs) {
        const rest = kv.key.slice(PREFIX.length);
        const slash = rest.indexOf('/');
        const kind = slash < 0 ? rest : rest.slice(0, slash);
        const id = slash < 0 ? '' : rest.slice(slash + 1);
        const val = JSON.parse(kv.value) as Record<string, unknown>;
        if (kind === 'workers') v.workers.set(id, kv.lease);
        else if (kind === 'admin') v.admin = String(val.id);
        else if (kind === 'moves') v.moves++;
        else if (kind === 'owners')
          owners.set(id, { owner: (val.owner as string | null) ?? null, lease: kv.lease });
        else if (kind === 'jobsets')
          v.jobsets.set(id, { owner: null, live: false, jobs: Object.keys(val.jobs as object) });
      }
      for (const [jsid, js] of v.jobsets) {
        const o = owners.get(jsid);
        js.owner = o?.owner ?? null;
        js.live = !!o?.owner && v.workers.get(o.owner) === o.lease;
        for (const name of js.jobs) v.ownerOf.set(name, js.owner);
      }
      return v;
    };

    const running = (): string[] =>
      [...workers.values()].filter((w) => !w.proc.exitInfo()).map((w) => w.spec.id);

    const describeView = (v: ClusterView): string => {
      const per = new Map<string, number>();
      for (const js of v.jobsets.values()) {
        const k = `${js.owner ?? 'FREE'}${js.owner && !js.live ? '(stale)' : ''}`;
        per.set(k, (per.get(k) ?? 0) + js.jobs.length);
      }
      return `rev ${v.revision}, workers [${[...v.workers.keys()].join(',')}], admin ${v.admin}, moves ${v.moves}, jobs per owner ${JSON.stringify(Object.fromEntries(per))}`;
    };

    const fixture: FaultCluster = {
      etcd: etcdRef,
      target: targetRef,
      ledger,
      endpoints,
      ttlMs: opts.leaseTtl * 1000,
      worker(id) {
        const w = workers.get(id);
        if (!w) throw new Error(`no worker ${id}`);
        return w;
      },
      async startWorker(id) {
        const w = fixture.worker(id);
        if (!w.proc.exitInfo()) throw new Error(`worker ${id} is still running`);
        w.proc = await spawn(w);
        await w.proc.waitReady(30_000, '/readyz');
        return w.proc;
      },
      view,
      async pathsOwnedBy(id) {
        const v = await view();
        return endpoints.filter((e) => v.ownerOf.get(e.name) === id).map((e) => e.path);
      },
      waitQuiet: (timeoutMs, expected, quietMs = 2500) =>
        fixture.waitOwnershipSettled(timeoutMs, expected, quietMs),
      async waitOwnershipSettled(timeoutMs, expected, quietMs = 0) {
        let last: ClusterView | undefined;
        let sig = '';
        let sigSince = 0;
        try {
          return await waitFor(
            async () => {
              const want = new Set(expected ?? running());
              const v = await view();
              last = v;
              if (v.jobsets.size === 0 || v.moves > 0 || !v.admin) return undefined;
              if (v.workers.size !== want.size || [...want].some((id) => !v.workers.has(id)))
                return undefined;
              if ([...v.jobsets.values()].some((js) => !js.live)) return undefined;
              if (v.ownerOf.size !== endpoints.length) return undefined;
              const owners = new Set([...v.jobsets.values()].map((js) => js.owner));
              if ([...want].some((id) => !owners.has(id))) return undefined;
              const now = Date.now();
              const next = [...v.jobsets]
                .map(([id, js]) => `${id}=${js.owner}`)
                .sort()
                .join(',');
              if (next !== sig) {
                sig = next;
                sigSince = now;
              }
              return now - sigSince >= quietMs ? v : undefined;
            },
            {
              timeoutMs,
              intervalMs: 200,
              message: `every jobset owned by a live worker, each worker owning some, no move for ${quietMs} ms`,
            },
          );
        } catch (err) {
          throw new Error(`${(err as Error).message}\n${last ? describeView(last) : 'no view'}`);
        }
      },
      async waitSlotsSeen(slot, timeoutMs) {
        await waitFor(() => ledger.notSeenSince(slot).length === 0, {
          timeoutMs,
          intervalMs: 100,
          message: `every endpoint checked for a slot ≥ ${slot}`,
        }).catch(async (err: unknown) => {
          throw new Error(
            `${(err as Error).message}; not seen: ${ledger.notSeenSince(slot).join(' ')}\n${await fixture.diagnostics()}`,
          );
        });
      },
      async measure(from, to) {
        const r = ledger.report(from, to);
        return Object.assign(r, {
          explain: async () => {
            const who = await checkersOf(
              [...workers.values()].flatMap((w) => w.resultsFiles),
              endpoints,
              r.endpoints.flatMap((e) => e.duplicated.map((d) => ({ path: e.path, slot: d.slot }))),
            );
            return `${r.summary()}\n${who}\n${await fixture.diagnostics()}`;
          },
        });
      },
      async diagnostics() {
        const v = await view().then(describeView, (err: unknown) => `view failed: ${String(err)}`);
        const tails = [...workers.values()]
          .map(
            (w) =>
              `--- ${w.spec.id} (pid ${w.proc.pid}, ${w.proc.exitInfo() ? 'exited' : 'running'}) ---\n${w.proc
                .lines()
                .slice(-12)
                .map((l) => l.text.slice(0, 300))
                .join('\n')}`,
          )
          .join('\n');
        return `${v}\n${tails}`;
      },
      close: closeAll,
    };
    await fixture.waitOwnershipSettled(30_000);
    return fixture;
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** For duplicated (path, slot) pairs: which workers ran them, from the results files. */
async function checkersOf(
  files: string[],
  endpoints: readonly LedgerEndpoint[],
  wanted: Array<{ path: string; slot: number }>,
): Promise<string> {
  if (wanted.length === 0) return '';
  const nameOf = new Map(endpoints.map((e) => [e.name, e.path]));
  const keys = new Set(wanted.map((w) => `${w.path}@${w.slot}`));
  const who = new Map<string, string[]>();
  for (const f of files) {
    const text = await readFile(f, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const r = JSON.parse(line) as {
          endpoint: string;
          scheduled_at: number;
          started_at: number;
          worker: string;
        };
        const k = `${nameOf.get(r.endpoint)}@${r.scheduled_at}`;
        if (keys.has(k))
          who.set(k, [...(who.get(k) ?? []), `${r.worker}@+${r.started_at - r.scheduled_at}ms`]);
      } catch {
        // partial last line
      }
    }
  }
  return [...who]
    .slice(0, 20)
    .map(([k, w]) => `  ${k}: ${w.join(', ')}`)
    .join('\n');
}
