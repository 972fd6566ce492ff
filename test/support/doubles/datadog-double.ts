/**
 * A local stand-in for the Datadog intake API: `POST /api/v1/check_run`, `POST /api/v2/series`,
 * `POST /api/v1/events`. It checks the API key (DD-API-KEY header or `api_key` query parameter),
 * content types and encodings, size limits and payload shapes against Datadog's documented
 * schemas; a broken request gets a 400 (as Datadog would) and is listed in `violations`.
 */
import { type FaultOptions, HttpDouble, header, type RecordedRequest, type Reply } from './http-double.js';

export interface ServiceCheckPayload {
  check: string;
  host_name: string;
  status: number;
  tags?: string[];
  timestamp?: number;
  message?: string;
}

export interface SeriesPayload {
  metric: string;
  type?: number;
  points: Array<{ timestamp: number; value: number }>;
  tags?: string[];
  unit?: string;
  resources?: Array<{ name: string; type: string }>;
}

export interface EventPayload {
  title: string;
  text: string;
  alert_type?: string;
  aggregation_key?: string;
  date_happened?: number;
  tags?: string[];
  priority?: string;
  [k: string]: unknown;
}

export const DD_SERIES_MAX_COMPRESSED = 500_000;
export const DD_SERIES_MAX_DECOMPRESSED = 5 * 1024 * 1024;
const CHECK_MESSAGE_MAX = 500;
const EVENT_TEXT_MAX = 4000;
const AGGREGATION_KEY_MAX = 100;
const ALERT_TYPES = ['error', 'warning', 'info', 'success', 'user_update', 'recommendation', 'snapshot'];

export class DatadogDouble {
  readonly checks: ServiceCheckPayload[] = [];
  readonly series: SeriesPayload[] = [];
  readonly events: EventPayload[] = [];
  /** accepted requests per intake path */
  readonly accepted: RecordedRequest[] = [];
  readonly violations: string[] = [];
  readonly http: HttpDouble;

  private constructor(private readonly apiKey: string) {
    this.http = new HttpDouble((req) => this.handle(req));
  }

  static async start(opts: { apiKey: string }): Promise<DatadogDouble> {
    const d = new DatadogDouble(opts.apiKey);
    await d.http.start();
    return d;
  }

  get url(): string {
    return this.http.url;
  }

  /** every request that reached a handler or a fault */
  get requests(): RecordedRequest[] {
    return this.http.requests;
  }

  fail(reply: Reply, opts?: FaultOptions): void {
    this.http.fail(reply, opts);
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

  /** points received for a metric, optionally only those carrying a tag */
  points(metric: string, tag?: string): Array<{ timestamp: number; value: number }> {
    return this.series
      .filter((s) => s.metric === metric && (!tag || s.tags?.includes(tag)))
      .flatMap((s) => s.points);
  }

  private handle(req: RecordedRequest): Reply {
    if (req.method !== 'POST') return this.reject(req, 405, `${req.method} ${req.path}: only POST`);
    const key = header(req, 'dd-api-key') ?? req.query.api_key;
    if (key !== this.apiKey) return { status: 403, body: JSON.stringify({ errors: ['Forbidden'] }) };
    const ct = header(req, 'content-type') ?? '';
    if (!ct.startsWith('application/json')) return this.reject(req, 415, `${req.path}: content-type ${ct}`);
    let json: unknown;
    try {
      json = JSON.parse(req.body.toString('utf8'));
    } catch {
      return this.reject(req, 400, `${req.path}: body is not JSON`);
    }
    switch (req.path) {
      case '/api/v1/check_run':
        return this.checkRun(req, json);
      case '/api/v2/series':
        return this.seriesV2(req, json);
      case '/api/v1/events':
        return this.event(req, json);
      default:
        return this.reject(req, 404, `unknown path ${req.path}`);
    }
  }

  private reject(req: RecordedRequest, status: number, why: string): Reply {
    this.violations.push(why);
    void req;
    return { status, body: JSON.stringify({ errors: [why] }) };
  }

  private checkRun(req: RecordedRequest, json: unknown): Reply {
    if (!Array.isArray(json)) return this.reject(req, 400, 'check_run: body must be an array');
    const problems: string[] = [];
    const nowS = Date.now() / 1000;
    json.forEach((c: Record<string, unknown>, i) => {
      const p = (m: string) => problems.push(`check_run[${i}]: ${m}`);
      if (typeof c !== 'object' || c === null) {
        p('not an object');
        return;
      }
      if (typeof c.check !== 'string' || !c.check) p('check must be a non-empty string');
      if (typeof c.host_name !== 'string' || !c.host_name) p('host_name must be a non-empty string');
      if (!Number.isInteger(c.status) || (c.status as number) < 0 || (c.status as number) > 3)
        p('status must be 0..3');
      if (c.tags !== undefined && !isStringArray(c.tags)) p('tags must be strings');
      if (c.timestamp !== undefined) {
        if (!Number.isInteger(c.timestamp)) p('timestamp must be integer seconds');
        else if ((c.timestamp as number) < nowS - 600 || (c.timestamp as number) > nowS + 60)
          p('timestamp more than 10 minutes old or in the future');
      }
      if (c.message !== undefined) {
        if (typeof c.message !== 'string' || c.message.length > CHECK_MESSAGE_MAX)
          p('message must be ≤ 500 chars');
        if (c.status === 0) p('message sent with status OK');
      }
    });
    if (problems.length > 0) return this.reject(req, 400, problems.join('; '));
    this.checks.push(...(json as ServiceCheckPayload[]));
    this.accepted.push(req);
    return { status: 202, body: JSON.stringify({ status: 'ok' }) };
  }

  private seriesV2(req: RecordedRequest, json: unknown): Reply {
    const enc = header(req, 'content-encoding');
    if (enc && !['gzip', 'deflate', 'identity'].includes(enc))
      return this.reject(req, 415, `series: encoding ${enc}`);
    if (req.raw.length > DD_SERIES_MAX_COMPRESSED)
      return this.reject(req, 413, `series: request of ${req.raw.length} bytes above 500 KB`);
    if (req.body.length > DD_SERIES_MAX_DECOMPRESSED)
      return this.reject(req, 413, `series: ${req.body.length} bytes decompressed above 5 MB`);
    const series = (json as { series?: unknown }).series;
    if (!Array.isArray(series)) return this.reject(req, 400, 'series: body.series must be an array');
    const problems: string[] = [];
    series.forEach((s: Record<string, unknown>, i) => {
      const p = (m: string) => problems.push(`series[${i}]: ${m}`);
      if (typeof s.metric !== 'string' || !s.metric) p('metric required');
      if (s.type !== undefined && ![0, 1, 2, 3].includes(s.type as number)) p('type must be 0..3');
      if (!Array.isArray(s.points) || s.points.length === 0) p('points required');
      else
        for (const pt of s.points as Array<Record<string, unknown>>) {
          if (!Number.isInteger(pt.timestamp)) p('point timestamp must be integer seconds');
          if (typeof pt.value !== 'number' || !Number.isFinite(pt.value)) p('point value must be a number');
        }
      if (s.tags !== undefined && !isStringArray(s.tags)) p('tags must be strings');
      if (s.unit !== undefined && typeof s.unit !== 'string') p('unit must be a string');
    });
    if (problems.length > 0) return this.reject(req, 400, problems.join('; '));
    this.series.push(...(series as SeriesPayload[]));
    this.accepted.push(req);
    return { status: 202, body: JSON.stringify({ errors: [] }) };
  }

  private event(req: RecordedRequest, json: unknown): Reply {
    const e = json as Record<string, unknown>;
    const problems: string[] = [];
    if (typeof e !== 'object' || e === null || Array.isArray(e))
      return this.reject(req, 400, 'event: not an object');
    if (typeof e.title !== 'string' || !e.title) problems.push('title required');
    if (typeof e.text !== 'string') problems.push('text required');
    else if (e.text.length > EVENT_TEXT_MAX) problems.push('text above 4000 chars');
    if (e.alert_type !== undefined && !ALERT_TYPES.includes(e.alert_type as string))
      problems.push('bad alert_type');
    if (
      e.aggregation_key !== undefined &&
      (typeof e.aggregation_key !== 'string' || e.aggregation_key.length > AGGREGATION_KEY_MAX)
    )
      problems.push('aggregation_key must be ≤ 100 chars');
    if (e.date_happened !== undefined && !Number.isInteger(e.date_happened))
      problems.push('date_happened must be integer seconds');
    else if (typeof e.date_happened === 'number' && Date.now() / 1000 - e.date_happened > 18 * 3600)
      problems.push('date_happened more than 18 hours ago');
    if (e.tags !== undefined && !isStringArray(e.tags)) problems.push('tags must be strings');
    if (e.priority !== undefined && !['normal', 'low'].includes(e.priority as string))
      problems.push('bad priority');
    if (problems.length > 0) return this.reject(req, 400, `event: ${problems.join('; ')}`);
    this.events.push(e as EventPayload);
    this.accepted.push(req);
    return {
      status: 202,
      body: JSON.stringify({ status: 'ok', event: { id: this.events.length, title: e.title } }),
    };
  }
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}
