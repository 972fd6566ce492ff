/** A normalised HTTP endpoint for engine tests (no sinks, interval schedule). */
import type { Endpoint } from '../../src/model/endpoint.js';

export function endpoint(name: string, dependsOn: string[] = [], everyMs = 1000): Endpoint {
  return {
    id: name,
    name,
    url: `http://${name}`,
    method: 'GET',
    headers: {},
    body: null,
    timeoutMs: 1000,
    connectTimeoutMs: 1000,
    followRedirects: false,
    maxRedirects: 0,
    tlsVerify: true,
    keepalive: false,
    maxBodyBytes: 1024,
    successTests: [],
    responseJsonValues: [],
    file: 'f.yml',
    line: 1,
    schedule: { kind: 'interval', everyMs },
    alert: { failureThreshold: 1, successThreshold: 1 },
    dependsOn,
    tags: [],
    sinks: {
      postEndpoint: null,
      postApiKey: null,
      postJsonInfo: null,
      postService: null,
      aws: null,
      datadog: null,
    },
    hash: `h-${name}`,
  };
}
