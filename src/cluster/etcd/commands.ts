/**
 * Operator commands in etcd (`watcher silence|unsilence|pause|resume|run-now`), under
 * `/watcher/<cluster>/commands/`:
 *
 * - `commands/silence/<id>`   SilenceValue, under its own lease of the silence's duration: etcd
 *                             removes it when it expires (readers also compare `expires_at`).
 * - `commands/pause/<endpoint>` PauseValue, no lease unless `--for` was given; `resume` deletes it.
 * - `commands/run-now/<id>`   RunNowValue, 30 s lease. The endpoint's owner claims it by a txn
 *                             (create revision equal and `claimed_by` absent → put with its id, same
 *                             lease), so exactly one worker runs it even across a handover, runs one
 *                             check and writes `commands/run-result/<id>` (30 s lease), then deletes
 *                             the request.
 *
 * Every worker watches the prefix (`CommandWatch`) and keeps the current view; the engine asks it
 * through `OperatorView`. The owner applies silences and pauses at each result and due slot, so a
 * command survives owner changes: it lives in etcd, not in the worker that saw it first.
 */
import type { RawEndpoint } from '../../config/types.js';
import type { OperatorView } from '../../controls/holds.js';
import type { Clock, TimerHandle } from '../../model/clock.js';
import type { Endpoint } from '../../model/endpoint.js';
import type { Logger } from '../../model/logger.js';
import type { CheckResult } from '../../model/result.js';
import type { OperatorCommand } from '../coordinator.js';
import { cmp, connectEtcd, type EtcdRpc, type KeyValue, op } from './client.js';
import type { EtcdClientOptions } from './client-options.js';
import { type ConfigSourceMode, publishConfigSource } from './config-source.js';
import { describeError } from './errors.js';
import { Keys, prefixEnd } from './keys.js';
import { ListWatch } from './list-watch.js';

export type CommandKind = 'silence' | 'pause' | 'run-now';

interface CommandBase {
  v: 1;
  id: string;
  author: string;
  reason: string;
  created_at: number;
  /** epoch ms; null = until removed (pause without --for) */
  expires_at: number | null;
}

export interface SilenceValue extends CommandBase {
  kind: 'silence';
  /** exactly one of endpoint / tag */
  endpoint: string | null;
  tag: string | null;
}

export interface PauseValue extends CommandBase {
  kind: 'pause';
  endpoint: string;
}

export interface RunNowValue extends CommandBase {
  kind: 'run-now';
  endpoint: string;
  /** the worker that claimed it (set by the claim txn) */
  claimed_by?: string;
}

export type CommandValue = SilenceValue | PauseValue | RunNowValue;

export interface RunResultValue {
  v: 1;
  id: string;
  endpoint: string;
  worker: string;
  result: CheckResult;
}

/** How long a run-now request waits for the owner, and how long its result stays readable. */
export const RUN_NOW_TTL_S = 30;

export function commandsPrefix(keys: Keys): string {
  return `${keys.prefix}commands/`;
}
export function commandKey(keys: Keys, kind: CommandKind, id: string): string {
  return `${commandsPrefix(keys)}${kind}/${id}`;
}
export function runResultKey(keys: Keys, id: string): string {
  return `${commandsPrefix(keys)}run-result/${id}`;
}

function parse(kv: KeyValue): CommandValue | null {
  try {
    const v = JSON.parse(kv.value.toString('utf8')) as CommandValue;
    if (v?.v !== 1 || typeof v.id !== 'string') return null;
    if (v.kind === 'silence' || v.kind === 'pause' || v.kind === 'run-now') return v;
    return null;
  } catch {
    return null;
  }
}

export function isActive(c: CommandValue, now: number): boolean {
  return c.expires_at === null || c.expires_at > now;
}

/** The commands under the prefix that are still in force (expired ones are never shown). */
export async function listCommands(rpc: EtcdRpc, keys: Keys, now = Date.now()): Promise<CommandValue[]> {
  const pre = commandsPrefix(keys);
  const { kvs } = await rpc.list(pre, prefixEnd(pre));
  const out: CommandValue[] = [];
  for (const kv of kvs) {
    const c = parse(kv);
    if (c && isActive(c, now)) out.push(c);
  }
  return out.sort((a, b) => a.created_at - b.created_at);
}

/** Puts a command; with an expiry it carries its own lease so that etcd removes it. */
export async function putCommand(rpc: EtcdRpc, keys: Keys, c: CommandValue): Promise<void> {
  const key = commandKey(keys, c.kind, c.kind === 'pause' ? c.endpoint : c.id);
  let lease: string | undefined;
  if (c.expires_at !== null) {
    const ttl = Math.max(1, Math.ceil((c.expires_at - Date.now()) / 1000));
    lease = (await rpc.leaseGrant(ttl)).id;
  }
  await rpc.txn([], [op.put(key, JSON.stringify(c), lease)]);
}

/** Deletes the keys of the given commands; returns how many there were. */
export async function deleteCommands(rpc: EtcdRpc, keys: Keys, cs: CommandValue[]): Promise<number> {
  if (cs.length === 0) return 0;
  await rpc.txn(
    [],
    cs.map((c) => op.del(commandKey(keys, c.kind, c.kind === 'pause' ? c.endpoint : c.id))),
  );
  return cs.length;
}

/** The endpoints of the cluster's desired state (jobsets), by name. */
export async function desiredEndpoints(rpc: EtcdRpc, keys: Keys): Promise<Map<string, RawEndpoint>> {
  const pre = `${keys.prefix}jobsets/`;
  const { kvs } = await rpc.list(pre, prefixEnd(pre));
  const out = new Map<string, RawEndpoint>();
  for (const kv of kvs) {
    try {
      const v = JSON.parse(kv.value.toString('utf8')) as { jobs?: Record<string, RawEndpoint> };
      for (const [name, raw] of Object.entries(v.jobs ?? {})) out.set(name, raw);
    } catch {
      // a malformed jobset is the admin's problem; it names no endpoint here
    }
  }
  return out;
}

/** Tags of a stored endpoint definition (defaults are already merged into the raw spec). */
export function rawTags(raw: RawEndpoint): string[] {
  const t = (raw.spec as Record<string, unknown>).tags;
  return Array.isArray(t) ? t.map(String) : typeof t === 'string' ? [t] : [];
}

/** Waits for the run-now result key (polled every 100 ms; one key, a CLI). */
export async function waitRunResult(
  rpc: EtcdRpc,
  keys: Keys,
  id: string,
  timeoutMs: number,
): Promise<RunResultValue | null> {
  const deadline = Date.now() + timeoutMs;
  const key = runResultKey(keys, id);
  while (Date.now() < deadline) {
    const { kv } = await rpc.get(key);
    if (kv) return JSON.parse(kv.value.toString('utf8')) as RunResultValue;
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

export interface CommandWatchDeps {
  rpc: EtcdRpc;
  keys: Keys;
  clock: Clock;
  logger: Logger;
  workerId: string;
  /** true when this worker runs the endpoint now */
  owns(name: string): boolean;
  /** one extra check of an owned endpoint; null when it is not owned any more */
  runNow(name: string): Promise<CheckResult | null>;
  /** the commands changed (a put or delete seen by the watch) */
  onChange?(): void;
}

/**
 * Every worker's copy of the commands: listed, then watched (re-listed on any watch problem).
 * Run-now requests of endpoints this worker owns are claimed and carried out; the pending ones are
 * looked at again every 250 ms, so a request whose endpoint changes owner is taken by the new one.
 */
export class CommandWatch implements OperatorView {
  private readonly commands = new Map<string, { kv: KeyValue; value: CommandValue }>();
  private watch: ListWatch | null = null;
  private timer: TimerHandle | null = null;
  private closed = false;
  private readonly running = new Set<string>();

  constructor(private readonly deps: CommandWatchDeps) {}

  /** This watch's etcd connection, shared by the other small per-worker duties (drift.ts). */
  connection(): { rpc: EtcdRpc; keys: Keys } {
    return { rpc: this.deps.rpc, keys: this.deps.keys };
  }

  /** The admin says where the desired state comes from (config-source.ts). */
  publishConfigSource(mode: ConfigSourceMode): Promise<void> {
    return publishConfigSource(this.deps.rpc, this.deps.keys, mode, this.deps.workerId);
  }

  async start(): Promise<void> {
    const pre = commandsPrefix(this.deps.keys);
    const { rpc, clock, logger } = this.deps;
    this.watch = new ListWatch(
      { rpc, clock, logger, what: 'command', start: pre, end: prefixEnd(pre) },
      {
        onList: (kvs) => {
          this.commands.clear();
          for (const kv of kvs) this.onPut(kv);
          this.pump();
        },
        onEvents: (events) => {
          for (const e of events) {
            if (e.type === 'put') this.onPut(e.kv);
            else this.commands.delete(e.kv.key);
          }
          this.pump();
          this.deps.onChange?.();
        },
      },
    );
    await this.watch.start();
    this.arm();
  }

  close(): void {
    this.closed = true;
    this.watch?.close();
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
  }

  silenced(endpoint: Pick<Endpoint, 'name' | 'tags'>, at: number): boolean {
    for (const { value: c } of this.commands.values()) {
      if (c.kind !== 'silence' || !isActive(c, at)) continue;
      if (c.endpoint === endpoint.name || (c.tag !== null && endpoint.tags.includes(c.tag))) return true;
    }
    return false;
  }

  paused(name: string): boolean {
    const now = this.deps.clock.now();
    for (const { value: c } of this.commands.values())
      if (c.kind === 'pause' && c.endpoint === name && isActive(c, now)) return true;
    return false;
  }

  /** Commands in force (status API), oldest first. */
  active(): OperatorCommand[] {
    const now = this.deps.clock.now();
    return [...this.commands.values()]
      .map((x) => x.value)
      .filter((c) => isActive(c, now))
      .sort((a, b) => a.created_at - b.created_at)
      .map((c) => ({
        kind: c.kind,
        id: c.id,
        endpoint: c.endpoint,
        ...(c.kind === 'silence' ? { tag: c.tag } : {}),
        author: c.author,
        reason: c.reason,
        created_at: c.created_at,
        expires_at: c.expires_at,
      }));
  }

  private onPut(kv: KeyValue): void {
    const value = parse(kv);
    if (value) this.commands.set(kv.key, { kv, value });
  }

  private arm(): void {
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = null;
      if (this.closed) return;
      this.pump();
      this.arm();
    }, 250);
  }

  /** Claims and runs the unclaimed run-now requests of endpoints this worker owns. */
  private pump(): void {
    for (const { kv, value: c } of this.commands.values()) {
      if (c.kind !== 'run-now' || c.claimed_by || this.running.has(c.id)) continue;
      if (!isActive(c, this.deps.clock.now()) || !this.deps.owns(c.endpoint)) continue;
      this.running.add(c.id);
      this.runOnce(kv, c)
        .catch((err: unknown) =>
          this.deps.logger.warn(
            { err: describeError(err), id: c.id, endpoint: c.endpoint },
            'run-now failed',
          ),
        )
        .finally(() => this.running.delete(c.id));
    }
  }

  private async runOnce(kv: KeyValue, c: RunNowValue): Promise<void> {
    const { rpc, keys, workerId } = this.deps;
    const claimed: RunNowValue = { ...c, claimed_by: workerId };
    // The request exactly as listed (same create and mod revision): one claimer wins, whoever owns it.
    const won = await rpc.txn(
      [cmp.create(kv.key, kv.createRev), cmp.mod(kv.key, kv.modRev)],
      [op.put(kv.key, JSON.stringify(claimed), kv.lease !== '0' ? kv.lease : undefined)],
    );
    if (!won.succeeded) return;
    this.deps.logger.info({ id: c.id, endpoint: c.endpoint, author: c.author }, 'run-now claimed');
    const result = await this.deps.runNow(c.endpoint);
    if (!result) {
      // The endpoint moved away between claim and run: hand the request back (fenced on our claim)
      // so that the new owner runs it, and nobody runs it twice.
      const mine = await rpc.get(kv.key);
      if (mine.kv)
        await rpc.txn(
          [cmp.mod(kv.key, mine.kv.modRev)],
          [op.put(kv.key, JSON.stringify(c), kv.lease !== '0' ? kv.lease : undefined)],
        );
      return;
    }
    const lease = (await rpc.leaseGrant(RUN_NOW_TTL_S)).id;
    const out: RunResultValue = { v: 1, id: c.id, endpoint: c.endpoint, worker: workerId, result };
    await rpc.txn([], [op.put(runResultKey(keys, c.id), JSON.stringify(out), lease), op.del(kv.key)]);
  }
}

/** Connects (its own client, so a slow command never queues behind coordination calls) and starts. */
export async function startCommandWatch(
  opts: EtcdClientOptions & Omit<CommandWatchDeps, 'rpc' | 'keys'> & { cluster: string },
): Promise<CommandWatch> {
  const keys = new Keys(opts.cluster);
  const rpc = await connectEtcd(opts, commandsPrefix(keys), 5000);
  const w = new CommandWatch({ ...opts, rpc, keys });
  try {
    await w.start();
  } catch (err) {
    rpc.close();
    throw err;
  }
  const close = w.close.bind(w);
  w.close = () => {
    close();
    rpc.close();
  };
  return w;
}
