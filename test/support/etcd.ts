/**
 * Real etcd clusters for tests: /usr/bin/etcd (Debian etcd-server 3.4) members on 127.0.0.1 with
 * temp data dirs, optional TLS (mutual) and auth. Members are controlled by PID (kill, restart with
 * the same data dir, stop/start all). Setup talks to etcd through its HTTP/JSON gateway, so no
 * etcdctl process is spawned per call.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IOptions } from 'etcd3';
import type { TestCerts } from './certs.js';
import { freePorts, type LoggedProcess, removeOnExit, spawnLogged } from './processes.js';
import { waitFor } from './wait.js';

export const ETCD_BIN = process.env.WATCHER_TEST_ETCD ?? '/usr/bin/etcd';
/** etcd's --grpc-keepalive-min-time everywhere this project starts etcd (workers ping every 5 s) */
export const ETCD_KEEPALIVE_MIN_TIME = '2s';

export interface EtcdUser {
  name: string;
  password: string;
  /** The user gets a role with read-write on this key prefix only. */
  prefix: string;
}

export interface EtcdClusterOptions {
  members?: 1 | 3;
  /** Client port of m1 = basePort, its peer port basePort+1, m2 = basePort+2, ... [free ports]. */
  basePort?: number;
  /** https client URLs with these certificates; `clientCertAuth` [true] requires client certs. */
  tls?: { certs: TestCerts; clientCertAuth?: boolean };
  /** Creates root (with this password) and `users`, then enables auth. */
  auth?: { rootPassword: string; users?: EtcdUser[] };
  extraArgs?: string[];
  /** Deadline for the cluster to become healthy [20 s]. */
  startTimeoutMs?: number;
}

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** PID of the running process; undefined while stopped. */
  readonly pid: number | undefined;
  readonly running: boolean;
}

export interface EtcdCluster {
  readonly dir: string;
  readonly clientUrls: string[];
  readonly members: EtcdMember[];
  member(name: string): EtcdMember;
  /** The member that the answering members agree is leader (polls up to `timeoutMs` [10 s]). */
  leader(timeoutMs?: number): Promise<EtcdMember>;
  /** Signals a member [SIGKILL] and waits for it to exit. */
  killMember(name: string, signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP / SIGCONT a member. */
  pauseMember(name: string): void;
  resumeMember(name: string): void;
  /** Restarts a stopped member with its data dir (--initial-cluster-state existing) and waits for it. */
  startMember(name: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM every running member (followers first) and waits for exit (data kept). */
  stopAll(): Promise<void>;
  /** Starts every stopped member and waits until all are healthy. */
  startAll(timeoutMs?: number): Promise<void>;
  /** Waits until every running member answers /health with true. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /**
   * etcd3 client options for this cluster: TLS credentials (client cert of `tls.certs.client`),
   * and `auth` when given. `hosts` defaults to the members' client URLs (pass proxied URLs).
   */
  clientOptions(extra?: { hosts?: string[]; auth?: { username: string; password: string } }): IOptions;
  /** Last lines of a member's log (or every member's). */
  logs(name?: string, lines?: number): string;
  /** SIGKILL every member and delete the temp dir. Idempotent. */
  close(): Promise<void>;
}

interface MemberState {
  name: string;
  clientPort: number;
  peerPort: number;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  proc: LoggedProcess | undefined;
}

export async function startEtcdCluster(opts: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const n = opts.members ?? 3;
  const dir = await mkdtemp(join(tmpdir(), 'watcher-etcd-'));
  removeOnExit(dir);
  const scheme = opts.tls ? 'https' : 'http';
  const ports = opts.basePort
    ? Array.from({ length: 2 * n }, (_, i) => opts.basePort! + i)
    : await freePorts(2 * n);
  if (ports.some((p) => p === 2379 || p === 2380)) throw new Error('etcd test ports must avoid 2379/2380');
  const states: MemberState[] = Array.from({ length: n }, (_, i) => {
    const clientPort = ports[2 * i]!;
    const peerPort = ports[2 * i + 1]!;
    return {
      name: `m${i + 1}`,
      clientPort,
      peerPort,
      clientUrl: `${scheme}://127.0.0.1:${clientPort}`,
      peerUrl: `http://127.0.0.1:${peerPort}`,
      dataDir: join(dir, `m${i + 1}.data`),
      proc: undefined,
    };
  });
  const initialCluster = states.map((s) => `${s.name}=${s.peerUrl}`).join(',');
  const token = `watcher-test-${process.pid}-${Date.now()}`;
  const tlsArgs = opts.tls
    ? [
        '--cert-file',
        opts.tls.certs.server.certPath,
        '--key-file',
        opts.tls.certs.server.keyPath,
        '--trusted-ca-file',
        opts.tls.certs.ca.certPath,
        ...(opts.tls.clientCertAuth === false ? [] : ['--client-cert-auth']),
      ]
    : [];
  const tlsClient: TlsMaterial | undefined = opts.tls
    ? { ca: opts.tls.certs.ca.cert, cert: opts.tls.certs.client.cert, key: opts.tls.certs.client.key }
    : undefined;

  const spawnMember = (s: MemberState, state: 'new' | 'existing'): void => {
    // prettier-ignore
    const args = [
      '--name',
      s.name,
      '--data-dir',
      s.dataDir,
      '--listen-client-urls',
      s.clientUrl,
      '--advertise-client-urls',
      s.clientUrl,
      '--listen-peer-urls',
      s.peerUrl,
      '--initial-advertise-peer-urls',
      s.peerUrl,
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-state',
      state,
      '--initial-cluster-token',
      token,
      '--unsafe-no-fsync',
      // as cluster/, compose and docs/CLUSTER.md: accept the workers' 5 s keepalive pings with margin
      '--grpc-keepalive-min-time',
      ETCD_KEEPALIVE_MIN_TIME,
      '--logger',
      'zap',
      '--log-outputs',
      'stderr',
      ...tlsArgs,
      ...(opts.extraArgs ?? []),
    ];
    s.proc = spawnLogged(ETCD_BIN, args, { name: s.name, logDir: dir, capture: 'file' });
  };

  const healthy = async (s: MemberState): Promise<boolean> => {
    if (!s.proc || s.proc.exitInfo()) throw new Error(`${s.name} is not running`);
    const res = await httpJson(`${s.clientUrl}/health`, undefined, tlsClient);
    return res.status === 200 && (res.body as { health?: string }).health === 'true';
  };

  const logs = (name?: string, lines = 30): string =>
    states
      .filter((s) => !name || s.name === name)
      .map((s) => `--- ${s.name} (${s.proc?.logFile ?? 'never started'}) ---\n${s.proc?.tail(lines) ?? ''}`)
      .join('\n');

  const waitMembers = async (members: MemberState[], timeoutMs: number, what: string): Promise<void> => {
    let settled = false;
    // A member that exits while we wait fails the wait at once (bad flag, port taken, ...).
    const died = Promise.race(
      members.map((s) =>
        s.proc!.exited.then((info) => {
          if (!settled)
            throw new Error(`${what}: ${s.name} exited (code ${info.code}, signal ${info.signal})`);
        }),
      ),
    );
    try {
      await Promise.race([
        died,
        waitFor(
          async () => (await Promise.all(members.map((s) => healthy(s).catch(() => false)))).every(Boolean),
          {
            timeoutMs,
            intervalMs: 100,
            message: what,
          },
        ),
      ]);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${logs(undefined, 20)}`);
    } finally {
      settled = true;
      died.catch(() => {});
    }
  };

  const find = (name: string): MemberState => {
    const s = states.find((m) => m.name === name);
    if (!s) throw new Error(`no etcd member named ${name} (have ${states.map((m) => m.name).join(', ')})`);
    return s;
  };
  const running = (): MemberState[] => states.filter((s) => s.proc && !s.proc.exitInfo());

  const view = (s: MemberState): EtcdMember => ({
    name: s.name,
    clientUrl: s.clientUrl,
    peerUrl: s.peerUrl,
    dataDir: s.dataDir,
    get logFile() {
      return join(dir, `${s.name}.log`);
    },
    get pid() {
      return s.proc && !s.proc.exitInfo() ? s.proc.pid : undefined;
    },
    get running() {
      return !!s.proc && !s.proc.exitInfo();
    },
  });

  let closed = false;
  const cluster: EtcdCluster = {
    dir,
    clientUrls: states.map((s) => s.clientUrl),
    members: states.map(view),
    member: (name) => view(find(name)),
    async leader(timeoutMs = 10_000) {
      const found = await waitFor(
        async () => {
          const statuses = await Promise.all(
            running().map(async (s) => {
              const res = await httpJson(`${s.clientUrl}/v3/maintenance/status`, {}, tlsClient).catch(
                () => undefined,
              );
              const body = res?.body as { header?: { member_id?: string }; leader?: string } | undefined;
              return { s, id: body?.header?.member_id, leader: body?.leader };
            }),
          );
          const self = statuses.find((x) => x.id !== undefined && x.id === x.leader);
          // Trust a self-declared leader only if no other answering member names someone else.
          if (self && statuses.every((x) => x.leader === undefined || x.leader === self.id)) return self.s;
          return undefined;
        },
        { timeoutMs, intervalMs: 100, message: 'etcd leader agreed by the running members' },
      );
      return view(found);
    },
    async killMember(name, signal = 'SIGKILL') {
      const s = find(name);
      if (!s.proc || s.proc.exitInfo()) return;
      s.proc.kill('SIGCONT');
      s.proc.kill(signal);
      const done = await Promise.race([s.proc.exited, timeoutAfter(10_000)]);
      if (!done) {
        s.proc.kill('SIGKILL');
        await s.proc.exited;
      }
    },
    pauseMember: (name) => find(name).proc?.pause(),
    resumeMember: (name) => find(name).proc?.resume(),
    async startMember(name, timeoutMs = 20_000) {
      const s = find(name);
      if (s.proc && !s.proc.exitInfo()) throw new Error(`etcd member ${name} is already running`);
      spawnMember(s, 'existing');
      await waitMembers([s], timeoutMs, `etcd member ${name} healthy after restart`);
    },
    async stopAll() {
      // Followers first, then the leader: a leader stopped while its followers run spends seconds
      // trying to hand leadership over (measured 7 s for all-at-once SIGTERM).
      const leaderName = await cluster
        .leader(2000)
        .then((m) => m.name)
        .catch(() => undefined);
      const followers = running().filter((s) => s.name !== leaderName);
      await Promise.all(followers.map((s) => cluster.killMember(s.name, 'SIGTERM')));
      await Promise.all(running().map((s) => cluster.killMember(s.name, 'SIGTERM')));
    },
    async startAll(timeoutMs = 20_000) {
      const stopped = states.filter((s) => !s.proc || s.proc.exitInfo());
      for (const s of stopped) spawnMember(s, 'existing');
      await waitMembers(states, timeoutMs, 'etcd cluster healthy after startAll');
    },
    async waitHealthy(timeoutMs = 20_000) {
      await waitMembers(running(), timeoutMs, 'running etcd members healthy');
    },
    clientOptions(extra = {}) {
      const o: IOptions = { hosts: extra.hosts ?? states.map((s) => s.clientUrl) };
      if (opts.tls) {
        o.credentials = {
          rootCertificate: opts.tls.certs.ca.cert,
          privateKey: opts.tls.certs.client.key,
          certChain: opts.tls.certs.client.cert,
        };
      }
      if (extra.auth) o.auth = { ...extra.auth };
      return o;
    },
    logs,
    async close() {
      if (closed) return;
      closed = true;
      const procs = states.flatMap((s) => (s.proc ? [s.proc] : []));
      for (const p of procs) p.kill('SIGKILL');
      await Promise.all(procs.map((p) => p.exited));
      await rm(dir, { recursive: true, force: true });
    },
  };

  try {
    for (const s of states) spawnMember(s, 'new');
    await waitMembers(states, opts.startTimeoutMs ?? 20_000, `etcd cluster of ${n} healthy`);
    if (opts.auth) await enableAuth(states[0]!.clientUrl, opts.auth, tlsClient);
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}

// ---------------------------------------------------------------------------------------------

async function enableAuth(
  url: string,
  auth: NonNullable<EtcdClusterOptions['auth']>,
  tls?: TlsMaterial,
): Promise<void> {
  const call = async (path: string, body: object): Promise<void> => {
    const res = await httpJson(`${url}${path}`, body, tls);
    if (res.status !== 200) throw new Error(`etcd ${path} → ${res.status} ${JSON.stringify(res.body)}`);
  };
  await call('/v3/auth/user/add', { name: 'root', password: auth.rootPassword });
  await call('/v3/auth/user/grant', { user: 'root', role: 'root' });
  for (const u of auth.users ?? []) {
    const role = `${u.name}-rw`;
    await call('/v3/auth/user/add', { name: u.name, password: u.password });
    await call('/v3/auth/role/add', { name: role });
    await call('/v3/auth/role/grant', {
      name: role,
      perm: { permType: 'READWRITE', key: b64(u.prefix), range_end: b64(prefixEnd(u.prefix)) },
    });
    await call('/v3/auth/user/grant', { user: u.name, role });
  }
  await call('/v3/auth/enable', {});
}

function b64(s: string | Buffer): string {
  return Buffer.from(s).toString('base64');
}

/** The range end covering every key that starts with `prefix`. */
export function prefixEnd(prefix: string): Buffer {
  const buf = Buffer.from(prefix);
  for (let i = buf.length - 1; i >= 0; i--) {
    if (buf[i]! < 0xff) {
      const end = buf.subarray(0, i + 1);
      end[i] = end[i]! + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** GET (body undefined) or POST JSON, 1 s deadline; returns status and parsed body. */
export function httpJson(
  url: string,
  body: object | undefined,
  tls?: TlsMaterial,
  timeoutMs = 1000,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const options = {
      method: payload === undefined ? 'GET' : 'POST',
      headers: payload === undefined ? {} : { 'content-type': 'application/json' },
      timeout: timeoutMs,
      agent: false as const,
      // servername '': no SNI for an IP host (avoids Node's DEP0123 warning).
      ...(u.protocol === 'https:' && tls ? { ca: tls.ca, cert: tls.cert, key: tls.key, servername: '' } : {}),
    };
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // keep text
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${u.pathname} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function timeoutAfter(ms: number): Promise<undefined> {
  return new Promise((r) => setTimeout(() => r(undefined), ms).unref());
}
