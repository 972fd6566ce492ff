/**
 * A local CloudWatch for the real `@aws-sdk/client-cloudwatch` (AWS JSON 1.0 protocol):
 * `PutMetricData` and `PutMetricAlarm`. Point the client at it with AWS_ENDPOINT_URL_CLOUDWATCH.
 * Requests are checked against the documented limits (≤ 1000 datums, ≤ 150 values per datum,
 * ≤ 30 dimensions, ≤ 1 MB); bodies the SDK gzips (≥ 10 KB) are decoded.
 */
import { type AwsExpectations, awsError, awsRequestProblems } from './aws-double.js';
import { type FaultOptions, HttpDouble, type RecordedRequest, type Reply } from './http-double.js';

export interface Datum {
  MetricName: string;
  Dimensions?: Array<{ Name: string; Value: string }>;
  Timestamp?: number;
  Value?: number;
  Values?: number[];
  Counts?: number[];
  Unit?: string;
  StorageResolution?: number;
}

export interface PutMetricDataCall {
  Namespace: string;
  MetricData: Datum[];
  gzipped: boolean;
  bytes: number;
}

const TARGET = 'GraniteServiceVersion20100801';
const MAX_BYTES = 1024 * 1024;

export class CloudWatchDouble {
  readonly puts: PutMetricDataCall[] = [];
  /** every PutMetricAlarm input, in order */
  readonly alarmPuts: Array<Record<string, unknown>> = [];
  readonly violations: string[] = [];
  readonly http: HttpDouble;

  private constructor(private readonly exp: Omit<AwsExpectations, 'service'>) {
    this.http = new HttpDouble((req) => this.handle(req));
  }

  static async start(exp: Omit<AwsExpectations, 'service'> = {}): Promise<CloudWatchDouble> {
    const d = new CloudWatchDouble(exp);
    await d.http.start();
    return d;
  }

  get url(): string {
    return this.http.url;
  }

  fail(reply: Reply, opts?: FaultOptions): void {
    this.http.fail(reply, opts);
  }

  /** a 400 Throttling, the way CloudWatch answers when over its rate */
  throttle(opts?: FaultOptions): void {
    this.http.fail(awsError(400, 'Throttling', 'Rate exceeded'), opts);
  }

  hang(opts?: FaultOptions): void {
    this.http.hang(opts);
  }

  heal(): void {
    this.http.heal();
  }

  close(): Promise<void> {
    return this.http.close();
  }

  /** every value sent for a metric of an endpoint, expanded by Counts */
  values(metric: string, endpoint?: string): number[] {
    const out: number[] = [];
    for (const p of this.puts)
      for (const d of p.MetricData) {
        if (d.MetricName !== metric) continue;
        if (endpoint && !d.Dimensions?.some((x) => x.Name === 'Endpoint' && x.Value === endpoint)) continue;
        if (d.Value !== undefined) out.push(d.Value);
        (d.Values ?? []).forEach((v, i) => {
          for (let k = 0; k < (d.Counts?.[i] ?? 1); k++) out.push(v);
        });
      }
    return out;
  }

  private handle(req: RecordedRequest): Reply {
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = target.startsWith(`${TARGET}.`) ? target.slice(TARGET.length + 1) : '';
    const problems = awsRequestProblems(req, 'application/x-amz-json-1.0', `${TARGET}.${op}`, {
      ...this.exp,
      service: 'monitoring',
    });
    if (!op) problems.push(`unknown x-amz-target ${target}`);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(req.body.toString('utf8'));
    } catch {
      problems.push('body is not JSON');
    }
    if (req.body.length > MAX_BYTES) problems.push(`request of ${req.body.length} bytes above 1 MB`);
    if (op === 'PutMetricData') problems.push(...this.checkMetricData(body));
    else if (op === 'PutMetricAlarm') problems.push(...this.checkAlarm(body));
    else if (op) problems.push(`operation ${op} not supported by the double`);
    if (problems.length > 0) {
      this.violations.push(...problems);
      return awsError(400, 'InvalidParameterValue', problems.join('; '));
    }
    if (op === 'PutMetricData')
      this.puts.push({
        Namespace: body.Namespace as string,
        MetricData: body.MetricData as Datum[],
        gzipped: req.headers['content-encoding'] === 'gzip',
        bytes: req.raw.length,
      });
    else this.alarmPuts.push(body);
    return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: '{}' };
  }

  private checkMetricData(b: Record<string, unknown>): string[] {
    const p: string[] = [];
    if (typeof b.Namespace !== 'string' || !b.Namespace || b.Namespace.startsWith('AWS/'))
      p.push('bad Namespace');
    const data = b.MetricData;
    if (!Array.isArray(data) || data.length === 0) return [...p, 'MetricData required'];
    if (data.length > 1000) p.push(`${data.length} datums above 1000`);
    for (const d of data as Datum[]) {
      if (!d.MetricName) p.push('MetricName required');
      if ((d.Dimensions?.length ?? 0) > 30) p.push('more than 30 dimensions');
      for (const dim of d.Dimensions ?? [])
        if (!dim.Name || !dim.Value) p.push('dimension needs Name and Value');
      if (d.Values && d.Values.length > 150) p.push(`${d.Values.length} values above 150`);
      if (d.Counts && (!d.Values || d.Counts.length !== d.Values.length)) p.push('Counts must match Values');
      if (d.Value !== undefined && d.Values) p.push('Value and Values both set');
      if (d.Timestamp !== undefined && typeof d.Timestamp !== 'number')
        p.push('Timestamp must be epoch seconds');
      if (d.StorageResolution !== undefined && ![1, 60].includes(d.StorageResolution))
        p.push('StorageResolution 1 or 60');
    }
    return p;
  }

  private checkAlarm(b: Record<string, unknown>): string[] {
    const p: string[] = [];
    for (const f of ['AlarmName', 'ComparisonOperator', 'EvaluationPeriods'])
      if (b[f] === undefined) p.push(`${f} required`);
    if (typeof b.AlarmName === 'string' && b.AlarmName.length > 255) p.push('AlarmName above 255');
    if (b.MetricName && !b.Namespace) p.push('Namespace required with MetricName');
    return p;
  }
}
