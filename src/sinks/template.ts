/** `{name}` placeholders: letters, digits, `_`, `-` and `.` (so `{db.latency_ms}` works). */
const PLACEHOLDER = /\{([A-Za-z0-9_.-]+)\}/g;

/**
 * Renders a `post_json_info` / `data_details_json` template: every string leaf (at any depth) has
 * its `{name}` placeholders replaced by `values[name]`; unknown names become the empty string (a
 * failed check has no response values, and `status:{status}` must not leak braces into tags).
 * Keys, numbers, booleans and null are kept as written.
 */
export function renderTemplate(tpl: unknown, values: Record<string, string>): unknown {
  if (typeof tpl === 'string') return renderString(tpl, values);
  if (Array.isArray(tpl)) return tpl.map((v) => renderTemplate(v, values));
  if (tpl !== null && typeof tpl === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(tpl)) out[k] = renderTemplate(v, values);
    return out;
  }
  return tpl;
}

export function renderString(s: string, values: Record<string, string>): string {
  return s.replace(PLACEHOLDER, (_m, name: string) =>
    Object.hasOwn(values, name) ? (values[name] as string) : '',
  );
}

/** Renders a template object; a non-object template yields {}. */
export function renderObject(
  tpl: Record<string, unknown> | null | undefined,
  values: Record<string, string>,
): Record<string, unknown> {
  if (!tpl) return {};
  const out = renderTemplate(tpl, values);
  return out !== null && typeof out === 'object' && !Array.isArray(out)
    ? (out as Record<string, unknown>)
    : {};
}
