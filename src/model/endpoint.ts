/**
 * The normalised endpoint model: what `config/` produces from a YAML file and what every other
 * module consumes. Plain JSON-serialisable data (it crosses thread boundaries and is stored in
 * etcd as the job definition), no methods.
 */

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'contains' | 'matches' | 'exists';

/** One condition of `success_test`. All must hold for a check to succeed. */
export type SuccessTest =
  | { kind: 'status_code'; op: CompareOp; value: number | string | boolean | null }
  | { kind: 'latency_ms'; op: CompareOp; value: number }
  /** `key` is a dotted path into the JSON body (`db.latency_ms`). */
  | { kind: 'json'; key: string; op: CompareOp; value: unknown };

export type Schedule =
  /** 5 fields (minute resolution) or 6 fields (seconds first); `timezone` is an IANA name, default UTC. */
  { kind: 'cron'; expr: string; timezone: string } | { kind: 'interval'; everyMs: number };

export interface AlertPolicy {
  /** consecutive failures before the endpoint is DOWN (default 1) */
  failureThreshold: number;
  /** consecutive successes before it is UP again (default 1) */
  successThreshold: number;
}

/** What the probe needs to run one check: the part of an Endpoint that crosses into a thread. */
export interface CheckSpec {
  /** stable job id (see Endpoint.id) */
  id: string;
  /** full URL: `${scheme}://${name}` */
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | null;
  /** total time budget for one check, ms (default 10 s) */
  timeoutMs: number;
  /** connect phase budget, ms (default = timeoutMs) */
  connectTimeoutMs: number;
  followRedirects: boolean;
  /** most redirects followed when followRedirects (default 5) */
  maxRedirects: number;
  tlsVerify: boolean;
  /** false (default): a fresh connection per check; true: a pooled keep-alive connection */
  keepalive: boolean;
  /** body bytes read at most; beyond = failed check `body too large` (default 1 MiB) */
  maxBodyBytes: number;
  successTests: SuccessTest[];
  /** dotted paths into the JSON body kept as template values `{name}` */
  responseJsonValues: string[];
}

/** `post_api_key` of the original design: attached as a URL query parameter. */
export interface PostApiKey {
  paramName: string;
  paramValue: string;
}

export interface DatadogOptions {
  apiKey: string;
  /** `datadoghq.com`, `datadoghq.eu`, ... */
  site: string;
  /** overrides the site (proxy, test double): base URL like `http://127.0.0.1:8125` */
  url: string | null;
  /** service check name (default `watcher.endpoint`) */
  checkName: string;
  tags: string[];
}

export interface CloudWatchAlarmOptions {
  /** evaluation periods (default 3) */
  evaluationPeriods: number;
  /** period in seconds (default 60) */
  periodSeconds: number;
  /** SNS topic ARNs etc. */
  alarmActions: string[];
  okActions: string[];
}

export interface AwsOptions {
  region: string | null;
  accessKeyId: string | null;
  secretAccessKey: string | null;
  /** CloudWatch metric namespace (default `Watcher`) */
  namespace: string;
  highResolution: boolean;
  /** user tags added as CloudWatch dimensions */
  tagsAsDimensions: boolean;
  /** EventBridge fields of the original design */
  dataSource: string | null;
  dataDetailType: string | null;
  /** `data_details_json`, a list of single-key maps merged in order; values are templates */
  dataDetailsJson: Record<string, unknown>;
  dataResources: string[];
  alarm: CloudWatchAlarmOptions | null;
}

/** Where results and state changes of an endpoint (or of `self`) go. All optional. */
export interface SinkTargets {
  /** original design: a Datadog events URL or any webhook that gets `post_json_info` on state changes */
  postEndpoint: string | null;
  postApiKey: PostApiKey | null;
  /** template object; string leaves may contain `{name}` placeholders */
  postJsonInfo: Record<string, unknown> | null;
  /** `aws-cloudwatch`: CloudWatch metrics + CloudWatch Events */
  postService: 'aws-cloudwatch' | null;
  aws: AwsOptions | null;
  datadog: DatadogOptions | null;
}

export interface Endpoint extends CheckSpec {
  /** The top-level key as written (host[:port]/path). Unique across the folder. */
  name: string;
  /** file it came from, as given to the loader (relative or absolute path) */
  file: string;
  /** 1-based line of the key in the file (for messages) */
  line: number;
  schedule: Schedule;
  alert: AlertPolicy;
  /** endpoint names whose DOWN state suppresses this endpoint's DOWN alerts */
  dependsOn: string[];
  tags: string[];
  sinks: SinkTargets;
  /**
   * Hash of the normalised definition (everything above). Equal hash = nothing changed: a reload
   * keeps the job's schedule phase and alert state.
   */
  hash: string;
}

/** The `self` block of a file: where workers report on themselves. */
export interface SelfTargets {
  file: string;
  sinks: SinkTargets;
}
