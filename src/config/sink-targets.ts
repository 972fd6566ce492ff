import type { AwsOptions, DatadogOptions, SinkTargets } from '../model/endpoint.js';
import { CFG } from './codes.js';
import { DEFAULTS } from './defaults.js';
import { alarmPeriodIssue, checkNameIssue, datadogTagIssues, namespaceIssue, tagEntries } from './limits.js';
import { addLimits, type Problems } from './spec-problems.js';
import { isMapping, list, type Spec, str } from './spec-values.js';
import { parseDuration } from './units.js';

/** The sink fields of an endpoint or of `self` -> SinkTargets (post_endpoint, AWS, Datadog). */

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

/** Shared by every endpoint without sinks (see NO_LIST in spec-values.ts). */
const NO_SINKS: SinkTargets = Object.freeze({
  postEndpoint: null,
  postApiKey: null,
  postJsonInfo: null,
  postService: null,
  aws: null,
  datadog: null,
});

function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
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

export /** Sink fields of an endpoint or of `self` (already env-expanded). */
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

export /** `${DD_API_KEY}` is the implicit api_key of a datadog block (only when the block is present). */
function withImplicitDefaults(spec: Spec): Spec {
  if (spec.datadog === undefined) return spec;
  const d = (spec.datadog ?? {}) as Spec;
  if (d.api_key !== undefined) return spec;
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a ${VAR} reference, expanded later
  return { ...spec, datadog: { ...d, api_key: '${DD_API_KEY}' } };
}
