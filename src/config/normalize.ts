import type {
  AwsOptions,
  CompareOp,
  DatadogOptions,
  Endpoint,
  ProbeKind,
  ProbeOptions,
  Schedule,
  SinkTargets,
  SuccessTest,
} from '../model/endpoint.js';
import { CFG } from './codes.js';
import { cronError, isValidTimezone } from './cron.js';
import { type EnvIssue, expandEnv } from './env.js';
import { canonicalJson, hash128 } from './hash.js';
import {
  alarmPeriodIssue,
  checkNameIssue,
  datadogTagIssues,
  dimensionIssues,
  type LimitIssue,
  namespaceIssue,
  tagEntries,
} from './limits.js';
import { maintenanceWindows } from './maintenance.js';
import { checkProbeFields, checkProbeTests, probeTarget } from './probes.js';
import { displayPath, type Position, problem } from './problems.js';
import { validateEndpointSpec } from './schema.js';
import type { ConfigProblem, RawEndpoint } from './types.js';
import { parseDuration, parseSize } from './units.js';
import type { Locate, Path } from './yaml-file.js';

/**
 * RawEndpoint (defaults merged, `${VAR}` as written) -> Endpoint. Pure and deterministic: the same
 * raw spec and environment give the same Endpoint, `hash` included. The schema has already been
 * checked (parseFile) or is checked here (normalizeEndpoint, for specs read back from etcd).
 */

type Spec = Record<string, unknown>;

export const DEFAULTS = {
  scheme: 'https',
  method: 'GET',
  timeoutMs: 10_000,
  followRedirects: true,
  maxRedirects: 5,
  tlsVerify: true,
  keepalive: false,
  maxBodyBytes: 1024 * 1024,
  timezone: 'UTC',
  failureThreshold: 1,
  successThreshold: 1,
  minIntervalMs: 100,
  cloudwatchNamespace: 'Watcher',
  alarmEvaluationPeriods: 3,
  alarmPeriodSeconds: 60,
  datadogSite: 'datadoghq.com',
  datadogCheckName: 'watcher.endpoint',
  /** used when an endpoint has no success_test */
  successTests: [{ kind: 'status_code', op: '<', value: 400 }] as SuccessTest[],
} as const;

const NUMERIC_OPS = new Set<CompareOp>(['==', '!=', '<', '<=', '>', '>=']);
const AWS_FIELDS = [
  'aws_region',
  'aws_key',
  'aws_secret',
  'data_source',
  'data_detail_type',
  'data_details_json',
  'data_resources',
  'cloudwatch_namespace',
  'cloudwatch_high_resolution',
  'cloudwatch_tags_as_dimensions',
  'cloudwatch_alarm',
];

export interface NormalizeContext {
  file: string;
  /** 1-based line of the endpoint key */
  line: number;
  /** position of a path relative to the endpoint (or to `self`) */
  locate: Locate;
  /** shown before paths in messages: '' for endpoints, 'self' for the self block */
  prefix?: string;
  /** fields written on the endpoint itself (not inherited from `defaults`); see checkProbeFields */
  own?: ReadonlySet<string>;
}

class Problems {
  readonly list: ConfigProblem[] = [];
  constructor(private readonly ctx: NormalizeContext) {}
  add(path: Path, at: 'key' | 'value', code: string, message: string): void {
    this.list.push(problem(this.ctx.file, this.ctx.locate(path, at), code, message));
  }
  show(path: Path): string {
    return displayPath(this.ctx.prefix ? [this.ctx.prefix, ...path] : path);
  }
}

function addLimits(p: Problems, code: string, issues: LimitIssue[]): void {
  for (const i of issues) p.add(i.path, i.path.length === 0 ? 'key' : 'value', code, i.message);
}

function isMapping(v: unknown): v is Spec {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/*
 * An endpoint without headers, lists or sinks shares one frozen empty value instead of carrying
 * its own: a worker keeps every endpoint it runs, ~2 MB at 10,000 endpoints (bench/README.md,
 * "Engine"). Endpoints are read-only data; a copy (JSON, structured clone) is a plain value again.
 */
const NO_LIST: string[] = Object.freeze([]) as unknown as string[];
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const NO_SINKS: SinkTargets = Object.freeze({
  postEndpoint: null,
  postApiKey: null,
  postJsonInfo: null,
  postService: null,
  aws: null,
  datadog: null,
});

function list(v: unknown): string[] {
  if (v === undefined || v === null) return NO_LIST;
  const out = (Array.isArray(v) ? v : [v]).map(String);
  return out.length === 0 ? NO_LIST : out;
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

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

function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

function envProblems(issues: EnvIssue[], p: Problems): void {
  for (const i of issues) {
    if (i.kind === 'missing') {
      p.add(
        i.path,
        'value',
        CFG.ENV_MISSING,
        `environment variable ${i.detail} is not set (used by \`${p.show(i.path)}\`)`,
      );
    } else {
      p.add(
        i.path,
        'value',
        CFG.ENV_SYNTAX,
        `\`${p.show(i.path)}\`: malformed \${...}; write \${NAME}, \${NAME:-fallback}, or $\${ for a literal \${`,
      );
    }
  }
}

function compareValue(
  op: CompareOp,
  value: unknown,
  hasValue: boolean,
  path: Path,
  p: Problems,
  numericOnly: boolean,
): unknown {
  const vpath = [...path, 'value'];
  if (numericOnly && !NUMERIC_OPS.has(op)) {
    p.add(
      [...path, 'op'],
      'value',
      CFG.ENUM,
      `\`${p.show([...path, 'op'])}\` must be one of ==, !=, <, <=, >, >=; got "${op}"`,
    );
    return value;
  }
  if (op === 'exists') {
    if (hasValue && typeof value !== 'boolean') {
      p.add(vpath, 'value', CFG.TYPE, `\`${p.show(vpath)}\` must be true or false with op exists`);
    }
    return hasValue ? value : true;
  }
  if (!hasValue) {
    p.add(path, 'key', CFG.REQUIRED, `\`${p.show(path)}\` is missing \`value\` (op ${op})`);
    return null;
  }
  if (numericOnly || op === '<' || op === '<=' || op === '>' || op === '>=') {
    if (typeof value !== 'number')
      p.add(vpath, 'value', CFG.TYPE, `\`${p.show(vpath)}\` must be a number with op ${op}`);
  } else if (op === 'matches') {
    if (typeof value !== 'string') {
      p.add(
        vpath,
        'value',
        CFG.TYPE,
        `\`${p.show(vpath)}\` must be a string (a regular expression) with op matches`,
      );
    } else {
      try {
        new RegExp(value);
      } catch (err) {
        // The engine's message repeats the pattern; keep only the reason.
        const reason = (err instanceof Error ? err.message : String(err)).split(': ').pop();
        p.add(vpath, 'value', CFG.REGEX, `\`${p.show(vpath)}\` is not a valid regular expression: ${reason}`);
      }
    }
  } else if (op === 'contains' && (value === null || typeof value === 'object')) {
    p.add(
      vpath,
      'value',
      CFG.TYPE,
      `\`${p.show(vpath)}\` must be a string, number or boolean with op contains`,
    );
  }
  return value;
}

function successTests(v: unknown, p: Problems): SuccessTest[] {
  if (v === undefined || v === null) return DEFAULTS.successTests.map((t) => ({ ...t }));
  const many = Array.isArray(v);
  const items = (many ? v : [v]) as Spec[];
  // map, not push: a pushed-to array keeps room for 17 elements (~150 bytes per endpoint)
  return items.map((item, i): SuccessTest => {
    const path: Path = many ? ['success_test', i] : ['success_test'];
    if ('status_code' in item) {
      const sc = item.status_code;
      if (isMapping(sc)) {
        const op = sc.op as CompareOp;
        const value = compareValue(op, sc.value, 'value' in sc, [...path, 'status_code'], p, false);
        return { kind: 'status_code', op, value: value as number | string | boolean | null };
      } else {
        return { kind: 'status_code', op: '==', value: sc as number };
      }
    } else if ('latency_ms' in item || 'cert_expiry_days' in item || 'answer_count' in item) {
      const kind =
        'latency_ms' in item
          ? 'latency_ms'
          : 'cert_expiry_days' in item
            ? 'cert_expiry_days'
            : 'answer_count';
      const lt = item[kind] as Spec;
      const op = lt.op as CompareOp;
      const value = compareValue(op, lt.value, 'value' in lt, [...path, kind], p, true);
      return { kind, op, value: value as number };
    } else if ('answers' in item) {
      const a = item.answers as Spec;
      const op = a.op as CompareOp;
      const value = compareValue(op, a.value, 'value' in a, [...path, 'answers'], p, false);
      return { kind: 'answers', op, value };
    } else {
      const op = (item.op as CompareOp | undefined) ?? '==';
      const value = compareValue(op, item.value, 'value' in item, path, p, false);
      return { kind: 'json', key: String(item.key), op, value };
    }
  });
}

/** Echo a value in a message only when it was written in the file, not read from the environment. */
function echo(written: unknown, value: string): string {
  return typeof written === 'string' && written.includes('${') ? '(from the environment)' : `"${value}"`;
}

function schedule(s: Spec, written: Spec, p: Problems): Schedule | null {
  const hasInterval = s.interval !== undefined;
  const hasCron = s.cron_schedule !== undefined;
  if (hasInterval && hasCron) {
    p.add(['cron_schedule'], 'key', CFG.SCHEDULE_BOTH, 'set either `interval` or `cron_schedule`, not both');
    return null;
  }
  if (!hasInterval && !hasCron) {
    p.add([], 'key', CFG.SCHEDULE_NONE, 'no schedule: add `interval: 30s` or `cron_schedule: "*/5 * * * *"`');
    return null;
  }
  if (hasInterval) {
    const everyMs = parseDuration(s.interval);
    if (everyMs === null) {
      p.add(
        ['interval'],
        'value',
        CFG.DURATION,
        '`interval` is not a duration (write e.g. 500ms, 5s, 2m, 1h)',
      );
      return null;
    }
    if (everyMs < DEFAULTS.minIntervalMs) {
      p.add(['interval'], 'value', CFG.RANGE, `\`interval\` must be at least ${DEFAULTS.minIntervalMs}ms`);
      return null;
    }
    return { kind: 'interval', everyMs };
  }
  const timezone = str(s.timezone) ?? DEFAULTS.timezone;
  if (!isValidTimezone(timezone)) {
    p.add(
      ['timezone'],
      'value',
      CFG.TIMEZONE,
      `\`timezone\`: unknown time zone ${echo(written.timezone, timezone)} (use an IANA name like Europe/Paris)`,
    );
    return null;
  }
  const expr = String(s.cron_schedule).trim();
  const err = cronError(expr, timezone);
  if (err !== null) {
    const fromEnv = echo(written.cron_schedule, expr) !== `"${expr}"`;
    const why = fromEnv ? 'expected 5 or 6 valid cron fields' : err; // the reason may quote the value
    p.add(
      ['cron_schedule'],
      'value',
      CFG.CRON,
      `\`cron_schedule\` ${echo(written.cron_schedule, expr)} is invalid: ${why}`,
    );
    return null;
  }
  return { kind: 'cron', expr, timezone };
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

function mergeDetails(v: unknown): Record<string, unknown> {
  if (Array.isArray(v)) return Object.assign({}, ...(v as Spec[]));
  return isMapping(v) ? { ...v } : {};
}

function aws(s: Spec, p: Problems): AwsOptions | null {
  if (s.post_service !== 'aws-cloudwatch') {
    const stray = AWS_FIELDS.find((f) => s[f] !== undefined);
    if (stray) {
      p.add([stray], 'key', CFG.REQUIRED, `\`${p.show([stray])}\` needs \`post_service: aws-cloudwatch\``);
    }
    return null;
  }
  let alarm: AwsOptions['alarm'] = null;
  if (s.cloudwatch_alarm !== undefined) {
    const a = (s.cloudwatch_alarm ?? {}) as Spec;
    let periodSeconds: number = DEFAULTS.alarmPeriodSeconds;
    if (a.period !== undefined) {
      const ms = parseDuration(a.period);
      if (ms === null || ms < 1000) {
        p.add(
          ['cloudwatch_alarm', 'period'],
          'value',
          CFG.DURATION,
          '`cloudwatch_alarm.period` must be a duration of at least 1s',
        );
      } else {
        const bad = alarmPeriodIssue(
          ms,
          s.cloudwatch_high_resolution === true,
          p.show(['cloudwatch_alarm', 'period']),
        );
        if (bad) p.add(['cloudwatch_alarm', 'period'], 'value', CFG.AWS_LIMIT, bad);
        periodSeconds = Math.round(ms / 1000);
      }
    }
    alarm = {
      evaluationPeriods: (a.evaluation_periods as number | undefined) ?? DEFAULTS.alarmEvaluationPeriods,
      periodSeconds,
      alarmActions: list(a.alarm_actions),
      okActions: list(a.ok_actions),
    };
  }
  const ns = str(s.cloudwatch_namespace);
  const badNs = ns === null ? null : namespaceIssue(ns, p.show(['cloudwatch_namespace']));
  if (badNs) p.add(['cloudwatch_namespace'], 'value', CFG.AWS_LIMIT, badNs);
  return {
    region: str(s.aws_region),
    accessKeyId: str(s.aws_key),
    secretAccessKey: str(s.aws_secret),
    namespace: str(s.cloudwatch_namespace) ?? DEFAULTS.cloudwatchNamespace,
    highResolution: s.cloudwatch_high_resolution === true,
    tagsAsDimensions: s.cloudwatch_tags_as_dimensions === true,
    dataSource: str(s.data_source),
    dataDetailType: str(s.data_detail_type),
    dataDetailsJson: mergeDetails(s.data_details_json),
    dataResources: list(s.data_resources),
    alarm,
  };
}

function datadog(s: Spec, env: NodeJS.ProcessEnv, p: Problems): DatadogOptions | null {
  if (s.datadog === undefined) return null;
  const d = (s.datadog ?? {}) as Spec;
  const url = str(d.url);
  if (url !== null && !isHttpUrl(url)) {
    p.add(['datadog', 'url'], 'value', CFG.URL, `\`${p.show(['datadog', 'url'])}\` must be an http(s) URL`);
  }
  const checkName = str(d.check_name);
  const badName = checkName === null ? null : checkNameIssue(checkName, p.show(['datadog', 'check_name']));
  if (badName) p.add(['datadog', 'check_name'], 'value', CFG.DATADOG_LIMIT, badName);
  addLimits(
    p,
    CFG.DATADOG_LIMIT,
    datadogTagIssues(tagEntries(d.tags, ['datadog', 'tags']), (x) => p.show(x)),
  );
  return {
    apiKey: str(d.api_key) ?? '',
    site: str(d.site) ?? (env.DD_SITE || DEFAULTS.datadogSite),
    url,
    checkName: str(d.check_name) ?? DEFAULTS.datadogCheckName,
    tags: list(d.tags),
  };
}

/** Sink fields of an endpoint or of `self` (already env-expanded). */
function sinks(s: Spec, env: NodeJS.ProcessEnv, p: Problems): SinkTargets {
  const postEndpoint = str(s.post_endpoint);
  if (postEndpoint !== null && !isHttpUrl(postEndpoint)) {
    p.add(['post_endpoint'], 'value', CFG.URL, `\`${p.show(['post_endpoint'])}\` must be an http(s) URL`);
  }
  let postApiKey: SinkTargets['postApiKey'] = null;
  if (isMapping(s.post_api_key)) {
    if (postEndpoint === null) {
      p.add(['post_api_key'], 'key', CFG.REQUIRED, `\`${p.show(['post_api_key'])}\` needs \`post_endpoint\``);
    }
    postApiKey = {
      paramName: String(s.post_api_key.param_name),
      paramValue: String(s.post_api_key.param_value),
    };
  }
  const out: SinkTargets = {
    postEndpoint,
    postApiKey,
    postJsonInfo: isMapping(s.post_json_info) ? s.post_json_info : null,
    postService: s.post_service === 'aws-cloudwatch' ? 'aws-cloudwatch' : null,
    aws: aws(s, p),
    datadog: datadog(s, env, p),
  };
  return Object.values(out).every((x) => x === null) ? NO_SINKS : out;
}

/** `${DD_API_KEY}` is the implicit api_key of a datadog block (only when the block is present). */
function withImplicitDefaults(spec: Spec): Spec {
  if (spec.datadog === undefined) return spec;
  const d = (spec.datadog ?? {}) as Spec;
  if (d.api_key !== undefined) return spec;
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a ${VAR} reference, expanded later
  return { ...spec, datadog: { ...d, api_key: '${DD_API_KEY}' } };
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
