/** Parsing of durations (`500ms`, `5s`, `1m30s`, plain number = seconds) and sizes (`1MiB`, `512KB`). */

const DURATION_PART = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)/gy;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds (rounded), or null when `v` is not a positive duration. */
export function parseDuration(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? Math.round(v * 1000) : null;
  if (typeof v !== 'string' || v.length === 0) return null;
  DURATION_PART.lastIndex = 0;
  let total = 0;
  let end = 0;
  for (let m = DURATION_PART.exec(v); m; m = DURATION_PART.exec(v)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    end = DURATION_PART.lastIndex;
  }
  if (end !== v.length) return null;
  const ms = Math.round(total);
  return ms > 0 && Number.isFinite(ms) ? ms : null;
}

const SIZE = /^([0-9]+(?:\.[0-9]+)?) ?([kmg]i?)?b$/i;
const SIZE_UNIT: Record<string, number> = {
  '': 1,
  k: 1000,
  ki: 1024,
  m: 1000 ** 2,
  mi: 1024 ** 2,
  g: 1000 ** 3,
  gi: 1024 ** 3,
};

/** Bytes (integer), or null when `v` is not a positive size. Integers are bytes. */
export function parseSize(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v > 0 ? v : null;
  if (typeof v !== 'string') return null;
  const m = SIZE.exec(v);
  if (!m) return null;
  const bytes = Math.floor(Number(m[1]) * SIZE_UNIT[(m[2] ?? '').toLowerCase()]!);
  return bytes > 0 && Number.isSafeInteger(bytes) ? bytes : null;
}
