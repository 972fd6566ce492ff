import { expandEnv } from './env.js';
import type { ConfigSnapshot, RawEndpoint } from './types.js';

/** Shorter values are not redacted: replacing "1" or "on" everywhere would wreck every log line. */
export const MIN_SECRET_LENGTH = 4;

/**
 * The strings that came from `${VAR}` expansion, for a logger to redact. From a snapshot (all its
 * files, good or bad) or from raw endpoints re-expanded with `env` (a worker that normalised specs
 * from etcd). Values shorter than `minLength` are left out.
 */
export function secretsOf(
  source: ConfigSnapshot | RawEndpoint | Iterable<RawEndpoint>,
  env: NodeJS.ProcessEnv = process.env,
  minLength = MIN_SECRET_LENGTH,
): Set<string> {
  const all = new Set<string>();
  const add = (values: Iterable<string>) => {
    for (const v of values) if (v.length >= minLength) all.add(v);
  };
  const fromRaw = (r: RawEndpoint) => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the implicit datadog.api_key reference
    const spec = r.spec.datadog !== undefined ? { ...r.spec, __dd: '${DD_API_KEY}' } : r.spec;
    add(expandEnv(spec, env).secrets);
  };
  if ('endpoints' in source && 'problems' in source) {
    if (source.secrets) add(source.secrets);
    else for (const r of source.raw.values()) fromRaw(r);
  } else if ('spec' in source && 'name' in source) {
    fromRaw(source as RawEndpoint);
  } else {
    for (const r of source as Iterable<RawEndpoint>) fromRaw(r);
  }
  return all;
}
