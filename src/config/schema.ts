import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { CFG } from './codes.js';
import { didYouMean } from './did-you-mean.js';
import { validateEndpoint, validateFile } from './generated/schema-validators.js';
import { displayPath } from './problems.js';

/**
 * The published JSON Schema (schema/endpoints.schema.json) as validators compiled at build time
 * (schema/build-validators.mjs), and the mapping of ajv errors to coded, human messages with a
 * path that callers turn into a position.
 */

/** Absolute path of the published schema file (two levels up from src/config or dist/config). */
export const SCHEMA_FILE = fileURLToPath(new URL('../../schema/endpoints.schema.json', import.meta.url));

type Json = Record<string, unknown>;
interface Definitions {
  defs: Record<string, Json>;
  /** JSON text of each definition -> its name: ajv's errors carry copies of the schema objects */
  byText: Map<string, string>;
}

const validators = {
  file: validateFile as ValidateFunction,
  endpoint: validateEndpoint as ValidateFunction,
};

let definitions: Definitions | null = null;

/** The schema's definitions, read only when an error must be explained (or fields listed). */
function loadDefinitions(): Definitions {
  if (definitions) return definitions;
  const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Json;
  const defs = schema.definitions as Record<string, Json>;
  const byText = new Map(Object.entries(defs).map(([name, d]) => [JSON.stringify(d), name] as const));
  definitions = { defs, byText };
  return definitions;
}

const defNames = new WeakMap<object, string | null>();

/** Which definition an error's parent schema is (null for an inline sub-schema). */
function definitionOf(ps: Json | undefined): string | null {
  if (!ps) return null;
  let name = defNames.get(ps);
  if (name === undefined) {
    name = loadDefinitions().byText.get(JSON.stringify(ps)) ?? null;
    defNames.set(ps, name);
  }
  return name;
}

/** Field names an endpoint accepts (from the schema). */
export function endpointFields(): string[] {
  return Object.keys(loadDefinitions().defs.endpoint!.properties as Json);
}

export interface SchemaIssue {
  /** path from the validated root (file: [endpoint, field, ...]; spec: [field, ...]) */
  path: string[];
  /** point at the key (unknown/missing field) or at the value */
  at: 'key' | 'value';
  code: string;
  message: string;
}

const RESERVED = new Set(['defaults', 'self']);

function decodePointer(p: string): string[] {
  if (p === '') return [];
  return p
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a number';
  return `a ${typeof v}`;
}

const TYPE_WORDS: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'true or false',
  null: 'empty',
};

function shown(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(JSON.stringify(v));
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function words(list: string[]): string {
  return list.length <= 1 ? (list[0] ?? '') : `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}`;
}

function mapError(e: ErrorObject, fileRoot: boolean): SchemaIssue | null {
  const segs = decodePointer(e.instancePath);
  const shownPath = (p: string[]) => {
    const rel = fileRoot && p.length > 0 && !RESERVED.has(p[0]!) ? p.slice(1) : p;
    return displayPath(rel);
  };
  const ps = e.parentSchema as Json | undefined;
  const def = definitionOf(ps) ?? branchDefinition(e.schemaPath);
  const field = shownPath(segs);
  switch (e.keyword) {
    case 'if':
      return null;
    case 'additionalProperties': {
      const name = String((e.params as { additionalProperty: string }).additionalProperty);
      const path = [...segs, name];
      const known = Object.keys((ps?.properties as Json | undefined) ?? {});
      if (def === 'jsonTest')
        known.push('status_code', 'latency_ms', 'cert_expiry_days', 'answers', 'answer_count');
      const guess = didYouMean(name, known);
      let message = `unknown field \`${shownPath(path)}\``;
      if (guess) message += `; did you mean \`${guess}\`?`;
      else if (def === 'self' && endpointFields().includes(name))
        message += ' (`self` takes sink fields only)';
      return { path, at: 'key', code: CFG.UNKNOWN_FIELD, message };
    }
    case 'required': {
      const missing = String((e.params as { missingProperty: string }).missingProperty);
      const message = field ? `\`${field}\` is missing \`${missing}\`` : `missing field \`${missing}\``;
      return { path: segs, at: 'key', code: CFG.REQUIRED, message };
    }
    case 'type': {
      const t = (e.params as { type: string | string[] }).type;
      const want = (Array.isArray(t) ? t : String(t).split(',')).filter((x) => x !== 'null');
      if (fileRoot && segs.length === 1 && !RESERVED.has(segs[0]!)) {
        return {
          path: segs,
          at: 'value',
          code: CFG.ENDPOINT_NOT_MAPPING,
          message: `endpoint \`${segs[0]}\` must be a mapping of fields, got ${typeName(e.data)}`,
        };
      }
      if (segs.length === 0) {
        return {
          path: segs,
          at: 'value',
          code: CFG.NOT_MAPPING,
          message: `expected a mapping, got ${typeName(e.data)}`,
        };
      }
      return {
        path: segs,
        at: 'value',
        code: CFG.TYPE,
        message: `\`${field}\` must be ${words(want.map((w) => TYPE_WORDS[w] ?? w))}, got ${typeName(e.data)}`,
      };
    }
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map(String);
      const unique = allowed.filter((a) => a === a.toUpperCase() || !allowed.includes(a.toUpperCase()));
      return {
        path: segs,
        at: 'value',
        code: CFG.ENUM,
        message: `\`${field}\` must be one of ${unique.join(', ')}; got ${shown(e.data)}`,
      };
    }
    case 'pattern':
    case 'exclusiveMinimum':
      if (def === 'duration') {
        return {
          path: segs,
          at: 'value',
          code: CFG.DURATION,
          message: `\`${field}\`: ${shown(e.data)} is not a duration (write e.g. 500ms, 5s, 2m, 1h; a number means seconds)`,
        };
      }
      if (def === 'size') {
        return {
          path: segs,
          at: 'value',
          code: CFG.SIZE,
          message: `\`${field}\`: ${shown(e.data)} is not a size (write e.g. 1048576, 512KB, 512KiB, 1MiB)`,
        };
      }
      break;
    case 'minimum':
    case 'maximum': {
      if (def === 'size') {
        return { path: segs, at: 'value', code: CFG.SIZE, message: `\`${field}\` must be at least 1 byte` };
      }
      const { comparison, limit } = e.params as { comparison: string; limit: number };
      return {
        path: segs,
        at: 'value',
        code: CFG.RANGE,
        message: `\`${field}\` must be ${comparison} ${limit}; got ${shown(e.data)}`,
      };
    }
    case 'minLength':
    case 'minItems':
      return { path: segs, at: 'value', code: CFG.SCHEMA, message: `\`${field}\` must not be empty` };
  }
  return {
    path: segs,
    at: 'value',
    code: CFG.SCHEMA,
    message: `\`${field || '(file)'}\` ${e.message ?? 'is invalid'}`,
  };
}

/** `#/definitions/duration/anyOf/0/pattern` -> `duration`: an error in one branch of a definition's anyOf. */
function branchDefinition(schemaPath: string): string | null {
  return /^#\/definitions\/([^/]+)\/anyOf\/\d+\/[^/]+$/.exec(schemaPath)?.[1] ?? null;
}

const typesOf = (e: ErrorObject): string[] => {
  const t = (e.params as { type: string | string[] }).type;
  return Array.isArray(t) ? t : String(t).split(',');
};

/**
 * The schema writes a value of several types as `anyOf` branches of one type each (ajv's strict
 * mode refuses `type: [a, b]` unions). Read back as one union: when the value has none of the
 * branch types, one `type` error listing them all; when it has one, that branch's own errors only
 * (the other branches' type mismatches say nothing). Branch errors come right before their
 * `anyOf` error and lie at or under its path.
 */
export function collapseAnyOf(errors: readonly ErrorObject[]): ErrorObject[] {
  const out: ErrorObject[] = [];
  for (const e of errors) {
    if (e.keyword !== 'anyOf') {
      out.push(e);
      continue;
    }
    const here = e.instancePath;
    let start = out.length;
    while (start > 0) {
      const p = out[start - 1]!.instancePath;
      if (p !== here && !p.startsWith(`${here}/`)) break;
      start--;
    }
    const block = out.splice(start);
    const mismatches = block.filter((b) => b.keyword === 'type' && b.instancePath === here);
    // `if` errors only say which branch of a condition failed; its own errors are in the block
    const rest = block.filter((b) => !mismatches.includes(b) && b.keyword !== 'if');
    if (rest.length > 0) out.push(...rest);
    else {
      const types = [...new Set(mismatches.flatMap(typesOf))];
      out.push({ ...e, keyword: 'type', params: { type: types }, message: `must be ${types.join(',')}` });
    }
  }
  return out;
}

function mapErrors(errors: ErrorObject[] | null | undefined, fileRoot: boolean): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  for (const e of collapseAnyOf(errors ?? [])) {
    const i = mapError(e, fileRoot);
    if (i) issues.push(i);
  }
  // An unknown field usually is the misspelt required one: report only the unknown field.
  const withUnknown = new Set(
    issues.filter((i) => i.code === CFG.UNKNOWN_FIELD).map((i) => JSON.stringify(i.path.slice(0, -1))),
  );
  return issues.filter((i) => i.code !== CFG.REQUIRED || !withUnknown.has(JSON.stringify(i.path)));
}

/** Validate a whole parsed file (a mapping). Paths start at the endpoint / `defaults` / `self` key. */
export function validateFileValue(value: unknown): SchemaIssue[] {
  const v = validators.file;
  return v(value) ? [] : mapErrors(v.errors, true);
}

/** Validate one endpoint spec (as stored in etcd). Paths start at the field. */
export function validateEndpointSpec(spec: unknown): SchemaIssue[] {
  const v = validators.endpoint;
  return v(spec) ? [] : mapErrors(v.errors, false);
}
