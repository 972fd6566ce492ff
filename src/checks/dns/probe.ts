/**
 * The dns probe: one query of one record type through c-ares (node:dns Resolver), against the
 * system's resolvers (/etc/resolv.conf) or the endpoint's `server`. Answers are sorted and kept
 * in the values (`answers`, `answer_count`) for tests and templates.
 */
import { Resolver } from 'node:dns/promises';
import { performance } from 'node:perf_hooks';
import type { DnsRecordType } from '../../model/endpoint.js';
import { round } from '../net/connect.js';
import type { Probe, ProbeOutcome } from '../probe.js';
import { CheckAbort, DNS_NO_ANSWERS, reasonOf } from '../reasons.js';
import { evaluateProbe } from '../success.js';

/**
 * One Resolver per (server, timeout) per thread: a Resolver owns a c-ares channel. `tries: 1`
 * and the check's own timeout make the query end by itself when the deadline fires (a shared
 * channel cannot be cancelled for one check: cancel() would end every query on it).
 */
const resolvers = new Map<string, Resolver>();
const MAX_RESOLVERS = 256;

function resolverFor(server: string | null, timeoutMs: number): Resolver {
  const key = `${server ?? ''}|${timeoutMs}`;
  let r = resolvers.get(key);
  if (r === undefined) {
    if (resolvers.size >= MAX_RESOLVERS) resolvers.clear();
    // Past the deadline: the check ends as `timeout`, not as a race between two timers.
    r = new Resolver({ timeout: Math.max(1, timeoutMs) + 250, tries: 1 });
    if (server !== null) r.setServers([server]);
    resolvers.set(key, r);
  }
  return r;
}

async function query(r: Resolver, name: string, record: DnsRecordType): Promise<string[]> {
  switch (record) {
    case 'A':
      return r.resolve4(name);
    case 'AAAA':
      return r.resolve6(name);
    case 'CNAME':
      return r.resolveCname(name);
    case 'TXT':
      return (await r.resolveTxt(name)).map((chunks) => chunks.join(''));
    case 'MX':
      return (await r.resolveMx(name)).map((mx) => `${mx.priority} ${mx.exchange}`);
  }
}

const MAX_SHOWN_ANSWERS = 1024;

export const dnsProbe: Probe = (spec, signal) => {
  const o = spec.probe;
  if (o?.kind !== 'dns') throw new CheckAbort('invalid probe options');
  const name = spec.url.slice('dns://'.length);
  const t0 = performance.now();
  const done = (ok: boolean, error: string | null, values: Record<string, string>): ProbeOutcome => {
    const total = round(performance.now() - t0);
    return {
      ok,
      status_code: null,
      error: ok ? null : error,
      values,
      duration_ms: total,
      timings: { dns: total, total },
    };
  };
  return new Promise<ProbeOutcome>((resolve) => {
    let settled = false;
    const settle = (o: ProbeOutcome): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      resolve(o);
    };
    const onAbort = (): void => settle(done(false, reasonOf(signal.reason), {}));
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort);
    query(resolverFor(o.server, spec.timeoutMs), name, o.record).then(
      (list) => settle(evaluated(list)),
      (err: unknown) => {
        // NODATA: the name exists without records of this type; tests may ask for that.
        if ((err as { code?: unknown }).code === 'ENODATA' && spec.successTests.length > 0)
          settle(evaluated([]));
        else
          settle(
            done(false, (err as { code?: unknown }).code === 'ENODATA' ? DNS_NO_ANSWERS : reasonOf(err), {}),
          );
      },
    );
  });

  function evaluated(list: string[]): ProbeOutcome {
    const answers = [...list].sort();
    let joined = answers.join(', ');
    if (joined.length > MAX_SHOWN_ANSWERS) joined = `${joined.slice(0, MAX_SHOWN_ANSWERS)}…`;
    const values = { answers: joined, answer_count: String(answers.length) };
    if (answers.length === 0 && spec.successTests.length === 0) return done(false, DNS_NO_ANSWERS, values);
    const error = evaluateProbe(spec, { latencyMs: performance.now() - t0, certExpiryDays: null, answers });
    return done(error === null, error, values);
  }
};
