import type { Endpoint, ProbeKind, ProbeOptions, SinkTargets } from '../model/endpoint.js';
import { CFG } from './codes.js';
import { DEFAULTS } from './defaults.js';
import { expandEnv } from './env.js';
import { canonicalJson, hash128 } from './hash.js';
import { datadogTagIssues, dimensionIssues, tagEntries } from './limits.js';
import { maintenanceWindows } from './maintenance.js';
import { checkProbeFields, checkProbeTests, probeTarget } from './probes.js';
import { type Position, problem } from './problems.js';
import { schedule } from './schedule-fields.js';
import { validateEndpointSpec } from './schema.js';
import { sinks, withImplicitDefaults } from './sink-targets.js';
import { addLimits, envProblems, type NormalizeContext, Problems } from './spec-problems.js';
import { list, type Spec, str } from './spec-values.js';
import { successTests } from './success-tests.js';
import type { ConfigProblem, RawEndpoint } from './types.js';
import { parseDuration, parseSize } from './units.js';
import type { Path } from './yaml-file.js';

/**
 * RawEndpoint (defaults merged, `${VAR}` as written) -> Endpoint. Pure and deterministic: the same
 * raw spec and environment give the same Endpoint, `hash` included. The schema has already been
 * checked (parseFile) or is checked here (normalizeEndpoint, for specs read back from etcd).
 *
 * This file assembles the Endpoint; its fields are read by schedule-fields.ts, success-tests.ts,
 * sink-targets.ts, probes.ts and maintenance.ts, problems collected by spec-problems.ts.
 */

/** Shared by every endpoint without headers (see NO_LIST in spec-values.ts). */
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

function nameError(name: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(name)) {
    return `endpoint \`${name}\`: write the address without the scheme (host[:port]/path) and set \`scheme:\` instead`;
  }
  if (/\s/.test(name) || name.length === 0) return `endpoint \`${name}\`: an address must not contain spaces`;
  try {
    const u = new URL(`https://${name}`);
    if (!u.hostname || u.username || u.password) throw new Error('no host');
  } catch {
    return `endpoint \`${name}\` is not a valid address host[:port]/path`;
  }
  return null;
}

function duration(s: Spec, field: string, fallback: number, p: Problems): number {
  if (s[field] === undefined) return fallback;
  const ms = parseDuration(s[field]);
  if (ms === null) {
    p.add(
      [field],
      'value',
      CFG.DURATION,
      `\`${p.show([field])}\` is not a duration (write e.g. 500ms, 5s, 2m, 1h)`,
    );
    return fallback;
  }
  return ms;
}

export interface SinksOutput {
  sinks: SinkTargets | null;
  problems: ConfigProblem[];
  secrets: string[];
}

/** The `self` block (schema already checked). */
export function normalizeSelf(spec: Spec | null, env: NodeJS.ProcessEnv, ctx: NormalizeContext): SinksOutput {
  const p = new Problems({ ...ctx, prefix: ctx.prefix ?? 'self' });
  const expanded = expandEnv(withImplicitDefaults(spec ?? {}), env);
  envProblems(expanded.issues, p);
  const out = sinks(expanded.value, env, p);
  return { sinks: p.list.length ? null : out, problems: p.list, secrets: expanded.secrets };
}

export interface SpecOutput {
  endpoint: Endpoint | null;
  problems: ConfigProblem[];
  secrets: string[];
}

/** Everything of an Endpoint except `hash`, from an env-expanded spec. */
function build(
  name: string,
  s: Spec,
  written: Spec,
  env: NodeJS.ProcessEnv,
  ctx: NormalizeContext,
  p: Problems,
): Endpoint | null {
  const sched = schedule(s, written, p);
  const kind = (str(s.probe) ?? 'http') as ProbeKind;
  const scheme = str(s.scheme) ?? DEFAULTS.scheme;
  let url = `${scheme}://${name}`;
  let probe: ProbeOptions | undefined;
  checkProbeFields(kind, s, ctx.own, p);
  if (kind !== 'http') {
    const target = probeTarget(kind, name, s, p);
    if (target === null) return null;
    url = target.url;
    probe = target.probe;
  }
  const timeoutMs = duration(s, 'timeout', DEFAULTS.timeoutMs, p);
  const connectTimeoutMs = duration(s, 'connect_timeout', timeoutMs, p);
  let maxBodyBytes: number = DEFAULTS.maxBodyBytes;
  if (s.max_body_size !== undefined) {
    const b = parseSize(s.max_body_size);
    if (b === null)
      p.add(['max_body_size'], 'value', CFG.SIZE, '`max_body_size` is not a size (write e.g. 512KB, 1MiB)');
    else maxBodyBytes = b;
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries((s.headers ?? {}) as Spec)) headers[k.toLowerCase()] = String(v);
  let body: string | null = null;
  if (typeof s.body === 'string') body = s.body;
  else if (s.body !== undefined && s.body !== null) {
    body = JSON.stringify(s.body);
    headers['content-type'] ??= 'application/json';
  }
  const dependsOn = list(s.depends_on);
  if (dependsOn.includes(name))
    p.add(['depends_on'], 'value', CFG.DEPENDS_ON, '`depends_on` must not name the endpoint itself');
  const alert = (s.alert ?? {}) as Spec;
  // Only HTTP has an implicit test (status < 400); a tcp, tls or dns check succeeds when it completes.
  const tests = kind === 'http' || s.success_test != null ? successTests(s.success_test, p) : [];
  checkProbeTests(
    kind,
    s,
    tests,
    tests.map((_t, i): Path => (Array.isArray(s.success_test) ? ['success_test', i] : ['success_test'])),
    p,
  );
  const sinkTargets = sinks(s, env, p);
  const tagList = tagEntries(s.tags, ['tags']);
  if (sinkTargets.aws) {
    const show = (x: Path) => p.show(x);
    addLimits(p, CFG.AWS_LIMIT, dimensionIssues(name, tagList, sinkTargets.aws.tagsAsDimensions, show));
  }
  if (sinkTargets.datadog)
    addLimits(
      p,
      CFG.DATADOG_LIMIT,
      datadogTagIssues(tagList, (x) => p.show(x)),
    );
  const maintenance = maintenanceWindows(s.maintenance, str(s.timezone) ?? DEFAULTS.timezone, p);
  if (p.list.length > 0 || sched === null) return null;
  const endpoint: Endpoint = {
    id: name,
    url,
    method: (str(s.method) ?? DEFAULTS.method).toUpperCase(),
    headers: Object.keys(headers).length > 0 ? headers : NO_HEADERS,
    body,
    timeoutMs,
    connectTimeoutMs,
    followRedirects: (s.follow_redirects as boolean | undefined) ?? DEFAULTS.followRedirects,
    maxRedirects: (s.max_redirects as number | undefined) ?? DEFAULTS.maxRedirects,
    tlsVerify: (s.tls_verify as boolean | undefined) ?? DEFAULTS.tlsVerify,
    keepalive: (s.keepalive as boolean | undefined) ?? DEFAULTS.keepalive,
    maxBodyBytes,
    successTests: tests,
    responseJsonValues: list(s.response_json_values),
    name,
    file: ctx.file,
    line: ctx.line,
    schedule: sched,
    alert: {
      failureThreshold: (alert.failure_threshold as number | undefined) ?? DEFAULTS.failureThreshold,
      successThreshold: (alert.success_threshold as number | undefined) ?? DEFAULTS.successThreshold,
    },
    dependsOn,
    tags: list(s.tags),
    sinks: sinkTargets,
    hash: '',
  };
  if (probe !== undefined) endpoint.probe = probe;
  if (maintenance !== undefined) endpoint.maintenance = maintenance;
  if (typeof s.confirm === 'number' && s.confirm > 0) endpoint.confirm = s.confirm;
  return endpoint;
}

/**
 * Hash of what changes behaviour: the whole endpoint except `hash`, `file` and `line` (moving an
 * endpoint between files or adding a comment above it does not reset its job).
 */
export function endpointHash(e: Endpoint): string {
  const { hash: _h, file: _f, line: _l, ...rest } = e;
  return hash128(canonicalJson(rest));
}

/** Normalise a spec whose schema is already valid. Problems point through ctx.locate. */
export function normalizeSpec(
  name: string,
  spec: Spec,
  env: NodeJS.ProcessEnv,
  ctx: NormalizeContext,
): SpecOutput {
  const p = new Problems(ctx);
  const bad = nameError(name);
  if (bad) {
    p.add([], 'key', CFG.ENDPOINT_NAME, bad);
    return { endpoint: null, problems: p.list, secrets: [] };
  }
  const expanded = expandEnv(withImplicitDefaults(spec), env);
  envProblems(expanded.issues, p);
  const endpoint = build(name, expanded.value, spec, env, ctx, p);
  if (endpoint === null || p.list.length > 0)
    return { endpoint: null, problems: p.list, secrets: expanded.secrets };
  endpoint.hash = endpointHash(endpoint);
  return { endpoint, problems: [], secrets: expanded.secrets };
}

/**
 * Normalise a RawEndpoint (as the cluster stores it) with this process's environment. Positions of
 * problems are the endpoint's line (the original file is not at hand).
 */
export function normalizeEndpoint(
  raw: RawEndpoint,
  env: NodeJS.ProcessEnv,
): { endpoint: Endpoint } | { problems: ConfigProblem[] } {
  const at: Position = { line: raw.line, col: 1 };
  const ctx: NormalizeContext = { file: raw.file, line: raw.line, locate: () => at };
  const issues = validateEndpointSpec(raw.spec);
  if (issues.length > 0) return { problems: issues.map((i) => problem(raw.file, at, i.code, i.message)) };
  const out = normalizeSpec(raw.name, raw.spec, env, ctx);
  return out.endpoint ? { endpoint: out.endpoint } : { problems: out.problems };
}
