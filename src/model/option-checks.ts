/**
 * Up-front checks of constructor options, like piscina's: a wrong type is a TypeError, a value out
 * of range a RangeError, and the message names the option (`maxBatch must be an integer >= 1,
 * got 0`). Nothing is clamped silently.
 */

/** `value` (or `fallback` when undefined) as an integer >= min. */
export function intOption(name: string, value: number | undefined, fallback: number, min: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new TypeError(`${name} must be an integer, got ${String(v)}`);
  if (v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

/** `value` (or `fallback`) as a number in [min, max] (not NaN). */
export function numberOption(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max = Number.POSITIVE_INFINITY,
): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || Number.isNaN(v))
    throw new TypeError(`${name} must be a number, got ${String(v)}`);
  if (v < min || v > max) throw new RangeError(`${name} must be between ${min} and ${max}, got ${v}`);
  return v;
}
