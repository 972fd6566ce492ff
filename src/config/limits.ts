/**
 * What AWS CloudWatch and Datadog refuse on the wire, checked when files are loaded (so
 * `watcher validate` reports it) instead of failing a whole request at run time: one bad
 * dimension fails the PutMetricData call of every endpoint batched with it.
 *
 * CloudWatch (PutMetricData / PutMetricAlarm): dimension names 1-255 and values 1-1024 ASCII
 * characters with at least one non-blank, a name must not start with `:`, at most 30 dimensions
 * per metric; namespaces 1-255 characters, not starting with `:` nor the reserved `AWS/`; an
 * alarm period of 10 or 30 s (high-resolution metrics only) or a multiple of 60 s.
 * Datadog: tags at most 200 characters starting with a letter (others are rewritten by Datadog,
 * so a dashboard query for the tag as written finds nothing); check names at most 200 characters.
 */
import type { Path } from './yaml-file.js';

export const CLOUDWATCH_LIMITS = {
  dimensionName: 255,
  dimensionValue: 1024,
  /** the Endpoint dimension included (sinks/cloudwatch-metrics.ts MAX_DIMENSIONS) */
  dimensions: 30,
  namespace: 255,
  subMinutePeriods: [10, 30] as readonly number[],
};

export const DATADOG_LIMITS = { tag: 200, checkName: 200 };

export interface LimitIssue {
  path: Path;
  message: string;
}

/** A tag list as written (a string is a list of one) with the path of each tag. */
export function tagEntries(raw: unknown, base: Path): { tag: string; path: Path }[] {
  if (typeof raw === 'string') return [{ tag: raw, path: base }];
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((t, i) => (typeof t === 'string' ? [{ tag: t, path: [...base, i] }] : []));
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function cloudwatchText(what: string, v: string, max: number): string | null {
  if (!PRINTABLE_ASCII.test(v))
    return `${what} must be printable ASCII for CloudWatch; got ${JSON.stringify(v)}`;
  if (v.trim() === '') return `${what} must not be empty or blank for CloudWatch`;
  if (v.length > max) return `${what} is ${v.length} characters; CloudWatch takes at most ${max}`;
  return null;
}

/** `null` when AWS accepts this alarm period. */
export function alarmPeriodIssue(periodMs: number, highResolution: boolean, shown: string): string | null {
  const s = periodMs / 1000;
  if (Number.isInteger(s) && s >= 60 && s % 60 === 0) return null;
  const sub = CLOUDWATCH_LIMITS.subMinutePeriods;
  if (Number.isInteger(s) && sub.includes(s)) {
    if (highResolution) return null;
    return `\`${shown}\` of ${s}s needs \`cloudwatch_high_resolution: true\` (a sub-minute alarm on a standard-resolution metric lacks data); otherwise use a multiple of 60s`;
  }
  return `\`${shown}\` must be ${sub.map((x) => `${x}s`).join(' or ')} (high resolution) or a multiple of 60s for CloudWatch; got ${s}s`;
}

export function namespaceIssue(ns: string, shown: string): string | null {
  const text = cloudwatchText(`\`${shown}\``, ns, CLOUDWATCH_LIMITS.namespace);
  if (text) return text;
  if (ns.startsWith(':')) return `\`${shown}\` must not start with ":" for CloudWatch`;
  if (ns.startsWith('AWS/')) return `\`${shown}\`: the "AWS/" prefix is reserved for AWS services`;
  return null;
}

/** Dimensions the CloudWatch sink derives from the endpoint name and, when asked, its tags. */
export function dimensionIssues(
  endpoint: string,
  tags: { tag: string; path: Path }[],
  tagsAsDimensions: boolean,
  show: (p: Path) => string,
): LimitIssue[] {
  const out: LimitIssue[] = [];
  const ep = cloudwatchText(
    `the Endpoint dimension (the endpoint's address)`,
    endpoint,
    CLOUDWATCH_LIMITS.dimensionValue,
  );
  if (ep) out.push({ path: [], message: ep });
  if (!tagsAsDimensions) return out;
  const names = new Set(['Endpoint']);
  for (const { tag, path } of tags) {
    const i = tag.indexOf(':');
    const name = i > 0 ? tag.slice(0, i) : tag;
    const value = i > 0 ? tag.slice(i + 1) : 'true';
    const where = `\`${show(path)}\` (a CloudWatch dimension with cloudwatch_tags_as_dimensions)`;
    if (name.startsWith(':')) {
      out.push({
        path,
        message: `${where}: a dimension name must not start with ":"; got ${JSON.stringify(tag)}`,
      });
      continue;
    }
    const problem =
      cloudwatchText(`${where}: the name`, name, CLOUDWATCH_LIMITS.dimensionName) ??
      cloudwatchText(`${where}: the value`, value, CLOUDWATCH_LIMITS.dimensionValue);
    if (problem) out.push({ path, message: problem });
    names.add(name);
  }
  if (names.size > CLOUDWATCH_LIMITS.dimensions) {
    out.push({
      path: tags[0]?.path.slice(0, -1) ?? [],
      message: `${names.size} CloudWatch dimensions (Endpoint + tags); CloudWatch takes at most ${CLOUDWATCH_LIMITS.dimensions}`,
    });
  }
  return out;
}

export function datadogTagIssues(
  tags: { tag: string; path: Path }[],
  show: (p: Path) => string,
): LimitIssue[] {
  const out: LimitIssue[] = [];
  for (const { tag, path } of tags) {
    if (tag.length > DATADOG_LIMITS.tag) {
      out.push({
        path,
        message: `\`${show(path)}\` is ${tag.length} characters; Datadog keeps tags of at most ${DATADOG_LIMITS.tag}`,
      });
    } else if (!/^\p{L}/u.test(tag)) {
      out.push({
        path,
        message: `\`${show(path)}\` must start with a letter for Datadog; got ${JSON.stringify(tag)}`,
      });
    }
  }
  return out;
}

export function checkNameIssue(name: string, shown: string): string | null {
  if (name.length > DATADOG_LIMITS.checkName)
    return `\`${shown}\` is ${name.length} characters; Datadog takes at most ${DATADOG_LIMITS.checkName}`;
  return null;
}
