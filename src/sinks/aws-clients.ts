import { createHash } from 'node:crypto';
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { AwsOptions } from '../model/endpoint.js';
import { SinkError } from './errors.js';

/**
 * The AWS SDK packages are loaded on first use only (dynamic import): they cost ~10 MB RSS and
 * ~100 ms of startup each, and most workers have no CloudWatch/EventBridge sink.
 */
export type CloudWatchSdk = typeof import('@aws-sdk/client-cloudwatch');
export type EventBridgeSdk = typeof import('@aws-sdk/client-eventbridge');

let cloudWatchSdk: Promise<CloudWatchSdk> | null = null;
let eventBridgeSdk: Promise<EventBridgeSdk> | null = null;

export function loadCloudWatchSdk(): Promise<CloudWatchSdk> {
  cloudWatchSdk ??= import('@aws-sdk/client-cloudwatch').catch((err: unknown) => {
    cloudWatchSdk = null;
    throw err;
  });
  return cloudWatchSdk;
}

export function loadEventBridgeSdk(): Promise<EventBridgeSdk> {
  eventBridgeSdk ??= import('@aws-sdk/client-eventbridge').catch((err: unknown) => {
    eventBridgeSdk = null;
    throw err;
  });
  return eventBridgeSdk;
}

/** A client with the SDK module it came from (for the Command classes). */
export interface SdkClient<C, M> {
  client: C;
  sdk: M;
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Where and as whom one AWS destination talks. */
export interface AwsTarget {
  region: string;
  /** null = the credential chain of the SDK (environment, profile, container/instance role) */
  credentials: AwsCredentials | null;
}

export const DEFAULT_AWS_REGION = 'us-east-1';

/**
 * Region: the endpoint's `aws_region`, else `AWS_REGION` / `AWS_DEFAULT_REGION`, else us-east-1.
 * Credentials: the endpoint's `aws_key`/`aws_secret` when both are given; else, when the hub was
 * handed its own `env`, that env's `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`; else the SDK chain.
 */
export function resolveAwsTarget(aws: AwsOptions | null, env: NodeJS.ProcessEnv): AwsTarget {
  const region = aws?.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || DEFAULT_AWS_REGION;
  if (aws?.accessKeyId && aws.secretAccessKey)
    return { region, credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey } };
  if (env !== process.env && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return {
      region,
      credentials: {
        accessKeyId: env.AWS_ACCESS_KEY_ID,
        secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
        ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
      },
    };
  }
  return { region, credentials: null };
}

/** A map key for a target that does not hold the secret itself. */
export function awsTargetKey(t: AwsTarget): string {
  const secretHash = t.credentials
    ? createHash('sha256')
        .update(`${t.credentials.secretAccessKey}\u0000${t.credentials.sessionToken ?? ''}`)
        .digest('hex')
    : '';
  return `${t.region}|${t.credentials?.accessKeyId ?? 'chain'}|${secretHash}`;
}

/**
 * One SDK client per (service, region, credentials), reused by every sink of that target.
 * The SDK's own retries are off (maxAttempts 1): the outbox owns backoff, buffering and counting,
 * so an outage is retried on the outbox's schedule and never multiplied by SDK attempts.
 * The first call per service loads that SDK package.
 */
export class AwsClients {
  private readonly cw = new Map<string, CloudWatchClient>();
  private readonly eb = new Map<string, EventBridgeClient>();

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly timeoutMs: number,
  ) {}

  async cloudwatch(t: AwsTarget): Promise<SdkClient<CloudWatchClient, CloudWatchSdk>> {
    const sdk = await loadCloudWatchSdk();
    const key = awsTargetKey(t);
    let c = this.cw.get(key);
    if (!c) {
      const endpoint = this.env.AWS_ENDPOINT_URL_CLOUDWATCH || this.env.AWS_ENDPOINT_URL;
      c = new sdk.CloudWatchClient({ ...this.common(t), ...(endpoint ? { endpoint } : {}) });
      this.cw.set(key, c);
    }
    return { client: c, sdk };
  }

  async eventbridge(t: AwsTarget): Promise<SdkClient<EventBridgeClient, EventBridgeSdk>> {
    const sdk = await loadEventBridgeSdk();
    const key = awsTargetKey(t);
    let c = this.eb.get(key);
    if (!c) {
      const endpoint = this.env.AWS_ENDPOINT_URL_EVENTBRIDGE || this.env.AWS_ENDPOINT_URL;
      c = new sdk.EventBridgeClient({ ...this.common(t), ...(endpoint ? { endpoint } : {}) });
      this.eb.set(key, c);
    }
    return { client: c, sdk };
  }

  destroy(): void {
    for (const c of this.cw.values()) c.destroy();
    for (const c of this.eb.values()) c.destroy();
    this.cw.clear();
    this.eb.clear();
  }

  private common(t: AwsTarget) {
    return {
      region: t.region,
      maxAttempts: 1,
      requestHandler: { requestTimeout: this.timeoutMs, connectionTimeout: Math.min(this.timeoutMs, 5000) },
      ...(t.credentials ? { credentials: t.credentials } : {}),
    };
  }
}

const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'LimitExceededException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalFailure',
  'InternalServiceError',
]);

/** SDK error -> SinkError. The text names the error and status, never credentials. */
export function classifyAwsError(err: unknown, signal: AbortSignal): SinkError {
  if (signal.aborted) return new SinkError('WATCHER_SINK_ABORTED', 'aborted', { retryable: true });
  const e = (err ?? {}) as {
    name?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
    $retryable?: unknown;
  };
  const name = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  if (name === 'TimeoutError' || e.code === 'ETIMEDOUT' || name === 'RequestTimeout')
    return new SinkError('WATCHER_SINK_TIMEOUT', 'timeout', { retryable: true });
  if (status === undefined) {
    return new SinkError('WATCHER_SINK_NETWORK', `network ${e.code ?? name}`, { retryable: true });
  }
  if (THROTTLING.has(name) || status === 408 || status === 429 || status >= 500 || e.$retryable) {
    return new SinkError('WATCHER_SINK_UNAVAILABLE', `aws ${name} (status ${status})`, { retryable: true });
  }
  const detail = (e.message ?? '').replace(/\s+/g, ' ').slice(0, 200);
  return new SinkError(
    'WATCHER_SINK_REJECTED',
    `aws ${name} (status ${status})${detail ? `: ${detail}` : ''}`,
    {
      retryable: false,
    },
  );
}
