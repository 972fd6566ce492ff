/**
 * GET /api/v1/status for the whole cluster: this worker's own document plus every peer's
 * `?scope=local` answer, fetched from the addresses in their worker records (per-check data never
 * goes through etcd). Each peer gets one short deadline; those that do not answer are listed and
 * their endpoints (known from the jobsets in etcd) appear with `state: null`.
 *
 * Bound at 100 workers: at most `concurrency` requests in flight, one gathering at a time (callers
 * arriving meanwhile share it) and its answer reused for `cacheMs`, so N dashboards cost one
 * fan-out per second, whatever N.
 */
import { request } from 'undici';
import type { ClusterStatus } from '../cluster/coordinator.js';
import { WatcherError } from '../model/errors.js';
import {
  type EndpointDoc,
  type ProblemDoc,
  STATUS_VERSION,
  type StatusDoc,
  type UnansweredDoc,
} from './status-doc.js';

export const PeerErrorCode = {
  TIMEOUT: 'PEER_TIMEOUT',
  UNREACHABLE: 'PEER_UNREACHABLE',
  HTTP_STATUS: 'PEER_HTTP_STATUS',
  BAD_ANSWER: 'PEER_BAD_ANSWER',
  NO_ADDRESS: 'PEER_NO_ADDRESS',
} as const;

export class PeerError extends WatcherError {
  constructor(code: (typeof PeerErrorCode)[keyof typeof PeerErrorCode], message: string, cause?: unknown) {
    super(code, message, { cause });
    this.name = 'PeerError';
  }
}

export interface ClusterViewOptions {
  selfId: string;
  /** this worker's own document (scope local) */
  local(): StatusDoc;
  /** the cluster as this worker's mirror holds it (workers and their addresses, jobsets) */
  cluster(): ClusterStatus | null;
  /** sent to peers as `Authorization: Bearer` (every worker of a cluster shares --http-token) */
  token: string | null;
  /** deadline of one peer's answer, headers and body [1500 ms] */
  timeoutMs?: number;
  /** peers asked at once [16] */
  concurrency?: number;
  /** a gathered answer is reused this long [1000 ms] */
  cacheMs?: number;
  now?: () => number;
}

function validate(
  o: ClusterViewOptions,
): Required<Pick<ClusterViewOptions, 'timeoutMs' | 'concurrency' | 'cacheMs'>> {
  const timeoutMs = o.timeoutMs ?? 1500;
  const concurrency = o.concurrency ?? 16;
  const cacheMs = o.cacheMs ?? 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new RangeError(`timeoutMs must be > 0, got ${timeoutMs}`);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new RangeError(`concurrency must be an integer ≥ 1, got ${concurrency}`);
  if (!Number.isFinite(cacheMs) || cacheMs < 0) throw new RangeError(`cacheMs must be ≥ 0, got ${cacheMs}`);
  return { timeoutMs, concurrency, cacheMs };
}

/** Fetch one peer's local document. */
export async function fetchPeerStatus(
  address: string,
  token: string | null,
  timeoutMs: number,
): Promise<StatusDoc> {
  if (!address || /^(0\.0\.0\.0|\[::\]|::):/.test(address))
    throw new PeerError(PeerErrorCode.NO_ADDRESS, `no reachable address in its worker record ("${address}")`);
  const signal = AbortSignal.timeout(timeoutMs);
  let res: Awaited<ReturnType<typeof request>>;
  try {
    res = await request(`http://${address}/api/v1/status?scope=local`, {
      signal,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  } catch (err) {
    if (signal.aborted) throw new PeerError(PeerErrorCode.TIMEOUT, `no answer within ${timeoutMs} ms`, err);
    throw new PeerError(PeerErrorCode.UNREACHABLE, `unreachable: ${(err as Error).message}`, err);
  }
  if (res.statusCode !== 200) {
    await res.body.dump().catch(() => {});
    throw new PeerError(PeerErrorCode.HTTP_STATUS, `answered HTTP ${res.statusCode}`);
  }
  let doc: unknown;
  try {
    doc = await res.body.json();
  } catch (err) {
    if (signal.aborted)
      throw new PeerError(PeerErrorCode.TIMEOUT, `no full answer within ${timeoutMs} ms`, err);
    throw new PeerError(PeerErrorCode.BAD_ANSWER, `answer is not JSON: ${(err as Error).message}`, err);
  }
  const d = doc as Partial<StatusDoc> | null;
  if (!d || d.version !== STATUS_VERSION || !Array.isArray(d.endpoints) || !d.worker)
    throw new PeerError(
      PeerErrorCode.BAD_ANSWER,
      `answer is not a version ${STATUS_VERSION} status document (version ${String(d?.version)})`,
    );
  return d as StatusDoc;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(lanes);
  return out;
}

type PeerAnswer =
  | { id: string; address: string; doc: StatusDoc }
  | { id: string; address: string; err: PeerError };

/** Merge this worker's document and its peers' answers into one cluster-scope document. */
export function mergeCluster(
  local: StatusDoc,
  cluster: ClusterStatus | null,
  answers: PeerAnswer[],
  now: number,
): StatusDoc {
  const docs = [local, ...answers.flatMap((a) => ('doc' in a ? [a.doc] : []))];
  const unanswered: UnansweredDoc[] = answers.flatMap((a) =>
    'err' in a ? [{ id: a.id, address: a.address, code: a.err.code, error: a.err.message }] : [],
  );
  const ownerOf = new Map<string, string | null>();
  for (const j of cluster?.jobsets ?? []) for (const n of j.names) ownerOf.set(n, j.owner);

  const endpoints = new Map<string, EndpointDoc>();
  for (const d of docs) {
    for (const e of d.endpoints) {
      const prev = endpoints.get(e.name);
      // during a handover two workers may both report it: the owner in etcd wins, else the newer result
      if (prev && !prefer(e, prev, ownerOf.get(e.name))) continue;
      endpoints.set(e.name, e);
    }
  }
  for (const j of cluster?.jobsets ?? []) {
    for (const name of j.names) {
      if (endpoints.has(name)) continue;
      endpoints.set(name, {
        name,
        file: '',
        url: '',
        owner: j.owner,
        state: null,
        suppressed: false,
        maintenance: false,
        silenced: false,
        paused: false,
        since: 0,
        next_due: null,
        skipped_slots: 0,
        depends_on: [],
        last: null,
        history_ms: [],
      });
    }
  }

  const byId = new Map(docs.map((d) => [d.worker.id, d]));
  const workers = local.cluster.workers.map((w) => {
    const d = byId.get(w.id);
    if (!d) return { ...w, answered: false };
    return { ...w, coverage: d.worker.coverage, lease_ok: d.worker.etcd_up ?? true, answered: true };
  });

  const problems = new Map<string, ProblemDoc>();
  for (const d of docs) {
    for (const p of d.config?.problems ?? []) {
      const key = `${p.file}\0${p.line}\0${p.col}\0${p.code}\0${p.message}`;
      const seen = problems.get(key);
      if (seen) seen.seen_by!.push(d.worker.id);
      else problems.set(key, { ...p, seen_by: [d.worker.id] });
    }
  }

  return {
    ...local,
    scope: 'cluster',
    generated_at: now,
    cluster: { ...local.cluster, workers },
    unanswered,
    partial: unanswered.length > 0,
    config: local.config ? { files: local.config.files, problems: [...problems.values()] } : null,
    endpoints: [...endpoints.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}

function prefer(e: EndpointDoc, prev: EndpointDoc, owner: string | null | undefined): boolean {
  if (owner !== undefined && e.owner !== prev.owner) return e.owner === owner;
  return (e.last?.started_at ?? 0) > (prev.last?.started_at ?? 0);
}

/** The cluster-scope status with single-flight gathering and a short cache. */
export class ClusterView {
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly cacheMs: number;
  private readonly now: () => number;
  private cached: { at: number; doc: StatusDoc } | null = null;
  private inflight: Promise<StatusDoc> | null = null;

  constructor(private readonly opts: ClusterViewOptions) {
    const v = validate(opts);
    this.timeoutMs = v.timeoutMs;
    this.concurrency = v.concurrency;
    this.cacheMs = v.cacheMs;
    this.now = opts.now ?? Date.now;
  }

  status(): Promise<StatusDoc> {
    const c = this.cached;
    if (c && this.now() - c.at < this.cacheMs) return Promise.resolve(c.doc);
    this.inflight ??= this.gather().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async gather(): Promise<StatusDoc> {
    const local = this.opts.local();
    const cluster = this.opts.cluster();
    const peers = (cluster?.workers ?? []).filter((w) => w.id !== this.opts.selfId);
    const answers = await mapLimit(peers, this.concurrency, async (w): Promise<PeerAnswer> => {
      try {
        return {
          id: w.id,
          address: w.address,
          doc: await fetchPeerStatus(w.address, this.opts.token, this.timeoutMs),
        };
      } catch (err) {
        const e =
          err instanceof PeerError
            ? err
            : new PeerError(PeerErrorCode.UNREACHABLE, (err as Error).message, err);
        return { id: w.id, address: w.address, err: e };
      }
    });
    const doc = mergeCluster(local, cluster, answers, this.now());
    this.cached = { at: this.now(), doc };
    return doc;
  }
}
