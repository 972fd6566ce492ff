import type { SuccessTest } from '../model/endpoint.js';

/** Values an endpoint gets for fields it does not set (docs/CONFIG.md). */
export const DEFAULTS = {
  scheme: 'https',
  method: 'GET',
  timeoutMs: 10_000,
  followRedirects: true,
  maxRedirects: 5,
  tlsVerify: true,
  keepalive: false,
  maxBodyBytes: 1024 * 1024,
  timezone: 'UTC',
  failureThreshold: 1,
  successThreshold: 1,
  minIntervalMs: 100,
  cloudwatchNamespace: 'Watcher',
  alarmEvaluationPeriods: 3,
  alarmPeriodSeconds: 60,
  datadogSite: 'datadoghq.com',
  datadogCheckName: 'watcher.endpoint',
  /** used when an endpoint has no success_test */
  successTests: [{ kind: 'status_code', op: '<', value: 400 }] as SuccessTest[],
} as const;
