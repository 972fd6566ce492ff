import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { CFG } from './codes.js';
import { didYouMean } from './did-you-mean.js';
import { displayPath } from './problems.js';

/**
 * The published JSON Schema (schema/endpoints.schema.json), compiled once on first use, and the
 * mapping of ajv errors to coded, human messages with a path that callers turn into a position.
 */

/** Absolute path of the published schema file (two levels up from src/config or dist/config). */
export const SCHEMA_FILE = fileURLToPath(new URL('../../schema/endpoints.schema.json', import.meta.url));

type Json = Record<string, unknown>;
interface Compiled {
  schema: Json;
  defs: Record<string, Json>;
  file: ValidateFunction;
  endpoint: ValidateFunction;
}

let compiled: Compiled | null = null;

function compile(): Compiled {
  if (compiled) return compiled;
  const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Json;
  const ajv = new Ajv({
    allErrors: true,
    verbose: true,
    allowUnionTypes: true,
    strict: true,
    strictRequired: false,
  });
  ajv.addSchema(schema);
  const id = schema.$id as string;
  compiled = {
    schema,
    defs: schema.definitions as Record<string, Json>,
    file: ajv.getSchema(id)!,
    endpoint: ajv.getSchema(`${id}#/definitions/endpoint`)!,
  };
  return compiled;
}

/** Field names an endpoint accepts (from the schema). */
export function endpointFields(): string[] {
  return Object.keys(compile().defs.endpoint!.properties as Json);
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

function mapError(e: ErrorObject, c: Compiled, fileRoot: boolean): SchemaIssue | null {
  const segs = decodePointer(e.instancePath);
  const shownPath = (p: string[]) => {
    const rel = fileRoot && p.length > 0 && !RESERVED.has(p[0]!) ? p.slice(1) : p;
    return displayPath(rel);
  };
  const ps = e.parentSchema as Json | undefined;
  const field = shownPath(segs);
  switch (e.keyword) {
    case 'if':
      return null;
    case 'additionalProperties': {
      const name = String((e.params as { additionalProperty: string }).additionalProperty);
      const path = [...segs, name];
      const known = Object.keys((ps?.properties as Json | undefined) ?? {});
      if (ps === c.defs.jsonTest) known.push('status_code', 'latency_ms');
      const guess = didYouMean(name, known);
      let message = `unknown field \`${shownPath(path)}\``;
      if (guess) message += `; did you mean \`${guess}\`?`;
      else if (ps === c.defs.self && name in (c.defs.endpoint!.properties as Json))
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
      if (ps === c.defs.duration) {
        return {
          path: segs,
          at: 'value',
          code: CFG.DURATION,
          message: `\`${field}\`: ${shown(e.data)} is not a duration (write e.g. 500ms, 5s, 2m, 1h; a number means seconds)`,
        };
      }
      if (ps === c.defs.size) {
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
      if (ps === c.defs.size) {
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

function mapErrors(errors: ErrorObject[] | null | undefined, c: Compiled, fileRoot: boolean): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  for (const e of errors ?? []) {
    const i = mapError(e, c, fileRoot);
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
  const c = compile();
  return c.file(value) ? [] : mapErrors(c.file.errors, c, true);
}

/** Validate one endpoint spec (as stored in etcd). Paths start at the field. */
export function validateEndpointSpec(spec: unknown): SchemaIssue[] {
  const c = compile();
  return c.endpoint(spec) ? [] : mapErrors(c.endpoint.errors, c, false);
}
