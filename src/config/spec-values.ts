/** Plain values read out of a (schema-checked, env-expanded) spec. */

export type Spec = Record<string, unknown>;

export function isMapping(v: unknown): v is Spec {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/*
 * An endpoint without headers, lists or sinks shares one frozen empty value instead of carrying
 * its own: a worker keeps every endpoint it runs, ~2 MB at 10,000 endpoints (bench/README.md,
 * "Engine"). Endpoints are read-only data; a copy (JSON, structured clone) is a plain value again.
 */
const NO_LIST: string[] = Object.freeze([]) as unknown as string[];

export function list(v: unknown): string[] {
  if (v === undefined || v === null) return NO_LIST;
  const out = (Array.isArray(v) ? v : [v]).map(String);
  return out.length === 0 ? NO_LIST : out;
}

export function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}
