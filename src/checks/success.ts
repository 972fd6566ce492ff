/**
 * Success rules of a check: status, JSON body tests, latency tests, and captured values.
 *
 * Default status rule (no `status_code` test): 2xx succeeds; 3xx also succeeds when redirects
 * are not followed (the redirect is then the answer the operator asked for). Any other status
 * fails with `status N`. With `status_code` tests, those decide instead (failure: `status N`).
 *
 * Failure reasons, first failing rule wins, in this order: status, JSON parse, then the tests in
 * the order they are written:
 *   `status 503`
 *   `json: unexpected token`
 *   `test: status == "degraded", expected "ok"`        (key == actual, expected [op] value)
 *   `test: db.latency_ms == 300, expected < 250`
 *   `test: db missing, expected exists`
 *   `test: latency_ms == 950, expected < 800`
 *   `test: cert_expiry_days == 3.0, expected > 14`
 *   `test: answers == "203.0.113.9", expected contains "203.0.113.7"`
 *   `test: answer_count == 1, expected >= 2`
 */
import type { CheckSpec, CompareOp, SuccessTest } from '../model/endpoint.js';
import { jsonReason } from './reasons.js';

export interface Evaluation {
  ok: boolean;
  error: string | null;
  values: Record<string, string>;
}

const MAX_SHOWN = 48;
const regexCache = new Map<string, RegExp | null>();

/** Whether the check must read the peer certificate (a cert_expiry_days test). */
export function needsCert(spec: CheckSpec): boolean {
  for (const t of spec.successTests) if (t.kind === 'cert_expiry_days') return true;
  return false;
}

/** Whether the body must be kept and parsed as JSON for this spec. */
export function needsJson(spec: CheckSpec): boolean {
  if (spec.responseJsonValues.length > 0) return true;
  for (const t of spec.successTests) if (t.kind === 'json') return true;
  return false;
}

/** What a non-HTTP probe measured, for its tests. */
export interface ProbeFacts {
  latencyMs: number;
  /** days to the peer certificate's expiry; null when no certificate was seen */
  certExpiryDays: number | null;
  /** dns answers (sorted) */
  answers: string[] | null;
}

/** Tests of a tcp, tls or dns check (the config allows only those it can evaluate). */
export function evaluateProbe(spec: CheckSpec, facts: ProbeFacts): string | null {
  for (const t of spec.successTests) {
    const error = runTest(t, undefined, facts);
    if (error !== null) return error;
  }
  return null;
}

export function evaluate(
  spec: CheckSpec,
  status: number,
  body: string | null,
  latencyMs: number,
  certExpiryDays: number | null = null,
): Evaluation {
  let values: Record<string, string> = {};
  let json: unknown;
  let jsonError: string | null = null;
  if (body !== null) {
    try {
      json = JSON.parse(body);
      values = captureValues(json, spec.responseJsonValues);
    } catch (err) {
      jsonError = jsonReason(err, body);
    }
  }

  const statusError = checkStatus(spec, status);
  if (statusError !== null) return { ok: false, error: statusError, values };
  if (jsonError !== null) return { ok: false, error: jsonError, values };

  const facts: ProbeFacts = { latencyMs, certExpiryDays, answers: null };
  for (const t of spec.successTests) {
    const error = runTest(t, json, facts);
    if (error !== null) return { ok: false, error, values };
  }
  return { ok: true, error: null, values };
}

function checkStatus(spec: CheckSpec, status: number): string | null {
  let tested = false;
  for (const t of spec.successTests) {
    if (t.kind !== 'status_code') continue;
    tested = true;
    if (!statusHolds(status, t.op, t.value)) return `status ${status}`;
  }
  if (tested) return null;
  if (status >= 200 && status < 300) return null;
  if (!spec.followRedirects && status >= 300 && status < 400) return null;
  return `status ${status}`;
}

/** `200`, `"2xx"` (a status class) or a regex with `matches`. */
function statusHolds(status: number, op: CompareOp, expected: unknown): boolean {
  if (typeof expected === 'string' && /^[1-5]xx$/i.test(expected) && (op === '==' || op === '!=')) {
    const same = Math.floor(status / 100) === Number(expected[0]);
    return op === '==' ? same : !same;
  }
  return compare(status, op, expected);
}

function runTest(t: SuccessTest, json: unknown, facts: ProbeFacts): string | null {
  switch (t.kind) {
    case 'status_code':
      return null;
    case 'latency_ms': {
      const ms = Math.round(facts.latencyMs);
      return compare(ms, t.op, t.value)
        ? null
        : `test: latency_ms == ${ms}, expected ${expectation(t.op, t.value)}`;
    }
    case 'json': {
      const actual = getPath(json, t.key);
      if (compare(actual, t.op, t.value)) return null;
      if (actual === undefined) return `test: ${t.key} missing, expected ${expectation(t.op, t.value)}`;
      return `test: ${t.key} == ${show(actual)}, expected ${expectation(t.op, t.value)}`;
    }
    case 'cert_expiry_days': {
      const days = facts.certExpiryDays;
      if (days === null) return `test: cert_expiry_days missing, expected ${expectation(t.op, t.value)}`;
      return compare(days, t.op, t.value)
        ? null
        : `test: cert_expiry_days == ${days.toFixed(1)}, expected ${expectation(t.op, t.value)}`;
    }
    case 'answers': {
      const answers = facts.answers ?? [];
      if (answersHold(answers, t.op, t.value)) return null;
      return `test: answers == ${show(answers.join(', '))}, expected ${expectation(t.op, t.value)}`;
    }
    case 'answer_count': {
      const n = facts.answers?.length ?? 0;
      return compare(n, t.op, t.value)
        ? null
        : `test: answer_count == ${n}, expected ${expectation(t.op, t.value)}`;
    }
  }
}

/** contains: one answer equals value; matches: one answer matches; other ops: the joined list. */
function answersHold(answers: string[], op: CompareOp, value: unknown): boolean {
  if (op === 'contains') return answers.some((a) => equals(a, value));
  if (op === 'matches') return answers.some((a) => compare(a, 'matches', value));
  return compare(answers.join(', '), op, value);
}

function expectation(op: CompareOp, value: unknown): string {
  if (op === 'exists') return value === false ? 'absent' : 'exists';
  return op === '==' ? show(value) : `${op} ${show(value)}`;
}

function show(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}…` : s;
}

export function compare(actual: unknown, op: CompareOp, expected: unknown): boolean {
  switch (op) {
    case 'exists':
      return expected === false ? actual === undefined : actual !== undefined;
    case '==':
      return equals(actual, expected);
    case '!=':
      return actual !== undefined && !equals(actual, expected);
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const a = toNumber(actual);
      const b = toNumber(expected);
      if (a === null || b === null) return false;
      return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
    }
    case 'contains':
      if (typeof actual === 'string') return actual.includes(String(expected));
      if (Array.isArray(actual)) return actual.some((x) => equals(x, expected));
      return false;
    case 'matches': {
      const re = cachedRegex(String(expected));
      if (re === null || actual === undefined || actual === null) return false;
      return re.test(typeof actual === 'string' ? actual : JSON.stringify(actual));
    }
  }
}

/** Equality across JSON and YAML types: `200` equals `"200"`, objects compare structurally. */
function equals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  const ta = typeof a;
  const tb = typeof b;
  if (
    (ta === 'number' || ta === 'string' || ta === 'boolean') &&
    (tb === 'number' || tb === 'string' || tb === 'boolean')
  ) {
    return String(a) === String(b);
  }
  if (ta === 'object' && tb === 'object') return JSON.stringify(a) === JSON.stringify(b);
  return false;
}

function toNumber(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/** A compiled regular expression per source (null when it does not compile), bounded cache. */
export function cachedRegex(source: string): RegExp | null {
  let re = regexCache.get(source);
  if (re === undefined) {
    try {
      re = new RegExp(source);
    } catch {
      re = null;
    }
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(source, re);
  }
  return re;
}

/** Dotted path into parsed JSON; numeric segments index arrays (`items.0.name`). */
export function getPath(root: unknown, path: string): unknown {
  let cur: unknown = root;
  let start = 0;
  for (;;) {
    const dot = path.indexOf('.', start);
    const seg = dot < 0 ? path.slice(start) : path.slice(start, dot);
    if (cur === null || typeof cur !== 'object') return undefined;
    if (!Object.hasOwn(cur, seg)) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
    if (dot < 0) return cur;
    start = dot + 1;
  }
}

/** Captured values: strings as is, other leaves as JSON text; missing paths are left out. */
export function captureValues(json: unknown, paths: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of paths) {
    const v = getPath(json, p);
    if (v === undefined) continue;
    out[p] = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  }
  return out;
}
