import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level: equal data -> equal text. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) out += (i > 0 ? ',' : '') + canonicalJson(v[i]);
    return `${out}]`;
  }
  const o = v as Record<string, unknown>;
  // default sort compares UTF-16 code units, as `a < b` does
  const keys = Object.keys(o).sort();
  let out = '{';
  for (const k of keys) {
    const x = o[k];
    if (x === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(k)}:${canonicalJson(x)}`;
  }
  return `${out}}`;
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * First 128 bits of sha256, as 32 hex characters: plenty to tell two definitions apart, and half
 * the memory of the full digest where every endpoint keeps one.
 */
export function hash128(data: string): string {
  return createHash('sha256').update(data).digest().toString('hex', 0, 16);
}
