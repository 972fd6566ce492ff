/**
 * One-shot cluster operations for the CLI: `watcher status` (read the cluster as etcd holds it)
 * and `watcher apply DIR` (push a folder into the desired state, the same packing the admin does).
 */
import type { ConfigSnapshot } from '../../config/types.js';
import { systemClock } from '../../model/clock.js';
import { silentLogger } from '../../model/logger.js';
import type { ClusterStatus, WorkerInfo } from '../coordinator.js';
import { type Compare, cmp, connectEtcd, type EtcdRpc, type Op, op } from './client.js';
import { classifyEtcdError, type EtcdClientOptions } from './client-options.js';
import { listCommands } from './commands.js';
import { readConfigSource } from './config-source.js';
import { type SelfChange, selfChange, selfKey, selfOp } from './desired-self.js';
import { driftingWorkers, readChecksums } from './drift.js';
import { ClusterError, ClusterErrorCode } from './errors.js';
import { chunkOps, desiredJobs, newJobsetId } from './jobset-writes.js';
import { Keys, prefixEnd } from './keys.js';
import { Mirror } from './mirror.js';
import { pack } from './packing.js';
import { encode } from './values.js';

export interface ClusterToolOptions extends EtcdClientOptions {
  cluster: string;
  /** bound of the connection check [5000 ms] */
  connectTimeoutMs?: number;
}

/** The cluster status built from a mirror (shared by the coordinator and `watcher status`). */
export function statusFromMirror(mirror: Mirror, self: string, etcdUp: boolean): ClusterStatus {
  const loads = mirror.loads();
  const workers: WorkerInfo[] = [...mirror.workers.values()]
    .map((w) => {
      const l = loads.get(w.value.id);
      return {
        id: w.value.id,
        address: w.value.address,
        capacity: w.value.capacity,
        version: w.value.version,
        startedAt: w.value.startedAt,
        jobs: l?.jobs ?? 0,
        jobsets: l?.jobsets ?? 0,
        lagP99Ms: w.value.lagP99Ms,
        shedding: w.value.shedding,
        overloaded: w.value.overloaded,
        ownedRate: w.value.ownedRate,
        servedRate: w.value.servedRate,
      };
    })
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  const jobsets = [...mirror.jobsets.values()]
    .map((j) => ({
      id: j.id,
      owner: mirror.owners.get(j.id)?.value.owner ?? null,
      jobs: j.count,
      names: [...j.names],
    }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
  return {
    mode: 'etcd',
    self,
    admin: mirror.admin?.value.id ?? null,
    etcdUp,
    workers,
    jobsets,
    waiting: mirror.waitingJobs(),
  };
}

async function loadMirror(rpc: EtcdRpc, keys: Keys): Promise<Mirror> {
  const [start, end] = keys.coordinationRange;
  const coord = await rpc.list(start, end);
  const workers = await rpc.list(keys.workersPrefix, prefixEnd(keys.workersPrefix), 256, coord.rev);
  const mirror = new Mirror(keys, systemClock, silentLogger);
  mirror.replace([...coord.kvs, ...workers.kvs], coord.rev);
  return mirror;
}

async function withRpc<T>(
  opts: ClusterToolOptions,
  fn: (rpc: EtcdRpc, keys: Keys) => Promise<T>,
): Promise<T> {
  const keys = new Keys(opts.cluster);
  const rpc = await connectEtcd(opts, keys.admin, opts.connectTimeoutMs ?? 5000);
  try {
    return await fn(rpc, keys);
  } finally {
    rpc.close();
  }
}

/** `watcher status`: workers, admin, jobsets → owner and job count, waiting jobs, per-worker lag. */
export function readClusterStatus(opts: ClusterToolOptions): Promise<ClusterStatus> {
  return withRpc(opts, async (rpc, keys) => {
    const status = statusFromMirror(await loadMirror(rpc, keys), '', true);
    // An alarm (NOSPACE) makes etcd refuse every write while reads go on: say so.
    const alarms = await rpc.alarms().catch(() => []);
    const commands = await listCommands(rpc, keys);
    const configDrift = driftingWorkers(await readChecksums(rpc, keys), status.admin);
    const withCommands = { ...status, commands, configDrift };
    return alarms.length > 0 ? { ...withCommands, etcdAlarms: alarms } : withCommands;
  });
}

export interface ApplyResult {
  added: string[];
  changed: string[];
  removed: string[];
  jobsetsWritten: number;
  jobsetsDeleted: number;
  /** what happened to the stored `self` blocks (desired-self.ts); null = unchanged */
  self: SelfChange | null;
}

/**
 * In folder mode the admin reconciles its own folder: an apply would be silently undone at its next
 * reconcile or at the next admin change, so it is refused, naming the mode and the admin.
 */
async function refuseInFolderMode(rpc: EtcdRpc, keys: Keys): Promise<void> {
  const source = await readConfigSource(rpc, keys);
  const mirror = await loadMirror(rpc, keys);
  const admin = mirror.admin?.value.id ?? null;
  if (source?.mode === 'etcd') return;
  if (!source && admin === null) return; // nobody reconciles anything: the apply stays
  throw new ClusterError(
    ClusterErrorCode.CONFIG_SOURCE,
    `cluster ${keys.cluster} takes its endpoints from the admin's folder (--config-source folder, admin ${source?.admin ?? admin}): an apply would be undone at the admin's next reconcile. Edit the admin's --endpoints-dir instead, or run every worker with --config-source etcd (docs/OPERATIONS.md "Source of truth")`,
  );
}

/**
 * `watcher apply DIR`: packs the snapshot into jobsets exactly as the admin does and writes the
 * difference, each transaction comparing the revisions of the jobsets it touches (retried on a
 * concurrent change); then the folder's `self` blocks, as written, under `self` (desired-self.ts). Note: a live admin with its own endpoint files reconciles its folder again
 * on its next change or election (docs/CLUSTER.md "Desired state").
 */
export function applyDesired(
  opts: ClusterToolOptions,
  snapshot: ConfigSnapshot,
  dryRun = false,
): Promise<ApplyResult> {
  return withRpc(opts, (rpc, keys) =>
    writeDesired(rpc, keys, snapshot, dryRun).catch((err: unknown) => {
      throw deniedApply(err, opts, keys);
    }),
  );
}

/** A refused write names the user and what apply needs (an operator role can only write commands/). */
function deniedApply(err: unknown, opts: ClusterToolOptions, keys: Keys): unknown {
  const e = classifyEtcdError(err);
  if (e.code !== ClusterErrorCode.PERMISSION_DENIED) return err;
  const user = opts.auth ? `user ${opts.auth.username}` : 'the client (no --etcd-user)';
  return new ClusterError(
    ClusterErrorCode.PERMISSION_DENIED,
    `etcd ${user} may not write the desired state under ${keys.prefix} (watcher apply writes jobsets/, owners/, moves/, state/ and self; it stopped at the refused write): use credentials with the workers' role (docs/OPERATIONS.md "etcd roles for workers and operators")`,
    { cause: err },
  );
}

async function writeDesired(
  rpc: EtcdRpc,
  keys: Keys,
  snapshot: ConfigSnapshot,
  dryRun: boolean,
): Promise<ApplyResult> {
  await refuseInFolderMode(rpc, keys);
  for (let attempt = 0; attempt < 5; attempt++) {
    const mirror = await loadMirror(rpc, keys);
    const storedSelf = (await rpc.get(selfKey(keys))).kv;
    const self = selfChange(storedSelf, snapshot.rawSelf);
    const retainFiles = new Set(snapshot.files.filter((f) => !f.ok).map((f) => f.file));
    const result = pack(
      [...mirror.jobsets.values()].map((j) => ({ id: j.id, value: j.value })),
      desiredJobs(snapshot, Date.now()),
      { newId: () => newJobsetId((id) => mirror.jobsets.has(id)), retainFiles },
    );
    if (dryRun)
      return {
        added: result.added,
        changed: result.changed,
        removed: result.removed,
        jobsetsWritten: 0,
        jobsetsDeleted: 0,
        self,
      };
    const ops: Array<{ op: Op[]; guard: Compare }> = [];
    for (const [id, value] of result.puts) {
      ops.push({
        op: [op.put(keys.jobset(id), encode(value))],
        guard: cmp.mod(keys.jobset(id), mirror.jobsets.get(id)?.modRev ?? 0),
      });
    }
    for (const id of result.deletes) {
      ops.push({
        op: [op.del(keys.jobset(id)), op.del(keys.owner(id)), op.del(keys.move(id))],
        guard: cmp.mod(keys.jobset(id), mirror.jobsets.get(id)?.modRev ?? 0),
      });
    }
    const stateOps = result.removed.map((n) => op.del(keys.state(n)));
    let conflict = false;
    // group per jobset so that each guard travels with its own writes
    const flat: Op[] = [];
    const guards: Compare[] = [];
    const flush = async (): Promise<void> => {
      if (flat.length === 0) return;
      const r = await rpc.txn(guards.splice(0), flat.splice(0));
      if (!r.succeeded) conflict = true;
    };
    for (const { op: o, guard } of ops) {
      if (flat.length + o.length > 100 || chunkOps([...flat, ...o]).length > 1) await flush();
      if (conflict) break;
      flat.push(...o);
      guards.push(guard);
    }
    if (!conflict) await flush();
    if (conflict) continue;
    if (self) {
      const guard = cmp.mod(selfKey(keys), storedSelf?.modRev ?? 0);
      if (!(await rpc.txn([guard], [selfOp(keys, self, snapshot.rawSelf, Date.now())])).succeeded) continue;
    }
    for (const chunk of chunkOps(stateOps)) await rpc.txn([], chunk);
    return {
      added: result.added,
      changed: result.changed,
      removed: result.removed,
      jobsetsWritten: result.puts.size,
      jobsetsDeleted: result.deletes.length,
      self,
    };
  }
  throw new ClusterError(
    ClusterErrorCode.UNREACHABLE,
    'apply kept conflicting with concurrent changes; try again',
  );
}
