import type { CheckSpec } from '../../src/model/endpoint.js';

/** A CheckSpec with the documented defaults, overridable per test. */
export function spec(url: string, over: Partial<CheckSpec> = {}): CheckSpec {
  return {
    id: over.id ?? url,
    url,
    method: 'GET',
    headers: {},
    body: null,
    timeoutMs: 2000,
    connectTimeoutMs: 2000,
    followRedirects: true,
    maxRedirects: 5,
    tlsVerify: true,
    keepalive: false,
    maxBodyBytes: 1024 * 1024,
    successTests: [],
    responseJsonValues: [],
    ...over,
  };
}
