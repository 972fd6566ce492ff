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
  | { kind: 'json'; key: string; op: CompareOp; value: unknown }
  /** days until the peer certificate's notAfter (fractional; negative once expired): tls, tcp+tls, https */
  | { kind: 'cert_expiry_days'; op: CompareOp; value: number }
  /** dns: the answers as a list (`contains`), each (`matches`: any answer), or joined (`==`) */
  | { kind: 'answers'; op: CompareOp; value: unknown }
  /** dns: how many answers */
  | { kind: 'answer_count'; op: CompareOp; value: number };

/** Probe kinds; `http` covers http and https (the URL scheme says which). */
export type ProbeKind = 'http' | 'tcp' | 'tls' | 'dns';
export type DnsRecordType = 'A' | 'AAAA' | 'CNAME' | 'TXT' | 'MX';

/** TLS settings of a tls probe or a tcp probe with `tls: true` (verification is CheckSpec.tlsVerify). */
export interface TlsProbeOptions {
  /** SNI and the name the certificate must match; null = the host of the key (none for an IP) */
  serverName: string | null;
  /** PEM file of CAs that replaces the system roots; null = system roots */
  caFile: string | null;
}

/** What `expect` of a tcp probe matches against the first bytes read. */
export type TcpExpect = { kind: 'contains'; value: string } | { kind: 'matches'; pattern: string };

/**
 * Settings of a non-HTTP probe; absent on HTTP specs. The kind is also the URL scheme
 * (`tcp://host:port`, `tls://host:port`, `dns://name`), which is what the registry looks up.
 */
export type ProbeOptions =
  | { kind: 'tcp'; send: string | null; expect: TcpExpect | null; tls: TlsProbeOptions | null }
  | { kind: 'tls'; tls: TlsProbeOptions }
  | { kind: 'dns'; record: DnsRecordType; server: string | null };

export type Schedule =
  /** 5 fields (minute resolution) or 6 fields (seconds first); `timezone` is an IANA name, default UTC. */
  { kind: 'cron'; expr: string; timezone: string } | { kind: 'interval'; everyMs: number };

/**
 * A maintenance window: alerts of the endpoint are suppressed inside it, checks go on.
 * `cron`: a window of `durationMs` opens at each occurrence of `expr` in `timezone`;
 * `fixed`: from `fromMs` (inclusive) to `toMs` (exclusive), epoch ms.
 */
export type MaintenanceWindow =
  | { kind: 'cron'; expr: string; timezone: string; durationMs: number }
  | { kind: 'fixed'; fromMs: number; toMs: number };

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
  /** tcp, tls, dns settings; absent for HTTP checks */
  probe?: ProbeOptions;
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
  /**
   * workers other than the owner that must see a failure before DOWN (absent = 0 = off, at most 1;
   * cluster only). Absent rather than 0 so that the hash of every existing endpoint is unchanged.
   */
  confirm?: number;
  tags: string[];
  sinks: SinkTargets;
  /** absent when the file declares none (so that endpoints without windows keep their hash) */
  maintenance?: MaintenanceWindow[];
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
