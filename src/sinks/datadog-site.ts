import type { DatadogOptions } from '../model/endpoint.js';

export const DEFAULT_DATADOG_SITE = 'datadoghq.com';

/** `url` when given (proxy, test double), else `https://api.<site>`; no trailing slash. */
export function datadogBaseUrl(dd: Pick<DatadogOptions, 'site' | 'url'>, env: NodeJS.ProcessEnv): string {
  if (dd.url) return dd.url.replace(/\/+$/, '');
  const site = (dd.site || env.DD_SITE || DEFAULT_DATADOG_SITE)
    .trim()
    .replace(/^(https?:\/\/)?(api\.|app\.)?/, '');
  return `https://api.${site}`;
}

/** Datadog's own hosts (any site): they take the key in the DD-API-KEY header too. */
export function isDatadogHost(hostname: string): boolean {
  return /(^|\.)(datadoghq\.com|datadoghq\.eu|ddog-gov\.com)$/i.test(hostname);
}

/** The v1 events intake path: bodies sent there get alert_type, aggregation_key, date_happened. */
export function isDatadogEventsPath(pathname: string): boolean {
  return /\/api\/v1\/events\/?$/.test(pathname);
}

/** `host[:port]` of a URL, for sink names (never the query, which may hold a key). */
export function hostOf(url: string): string {
  try {
    return new URL(url).host || 'invalid-url';
  } catch {
    return 'invalid-url';
  }
}
