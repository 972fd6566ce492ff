/**
 * A local EventBridge for the real `@aws-sdk/client-eventbridge` (AWS JSON 1.1, `AWSEvents.PutEvents`).
 * Checks ≤ 10 entries and ≤ 256 KB per request and the entry shape; can fail chosen entries
 * (partial failure, `FailedEntryCount` > 0) or whole requests.
 */
import { type AwsExpectations, awsError, awsRequestProblems } from './aws-double.js';
import { type FaultOptions, HttpDouble, type RecordedRequest, type Reply } from './http-double.js';

export interface EventEntry {
  Source: string;
  DetailType: string;
  Detail: string;
  Resources?: string[];
  Time?: number;
  EventBusName?: string;
}

const MAX_ENTRIES = 10;
const MAX_BYTES = 256 * 1024;

export function entrySize(e: EventEntry): number {
  let n = e.Time !== undefined ? 14 : 0;
  for (const s of [e.Source, e.DetailType, e.Detail, ...(e.Resources ?? [])])
    if (s) n += Buffer.byteLength(s);
  return n;
}

export class EventBridgeDouble {
  /** accepted entries (not those failed on purpose) */
  readonly entries: EventEntry[] = [];
  /** entries per accepted request */
  readonly requestSizes: number[] = [];
  readonly violations: string[] = [];
  readonly http: HttpDouble;
  private entryFaults: Array<{ match: (e: EventEntry) => boolean; remaining: number }> = [];
  private seq = 0;

  private constructor(private readonly exp: Omit<AwsExpectations, 'service'>) {
    this.http = new HttpDouble((req) => this.handle(req));
  }

  static async start(exp: Omit<AwsExpectations, 'service'> = {}): Promise<EventBridgeDouble> {
    const d = new EventBridgeDouble(exp);
    await d.http.start();
    return d;
  }

  get url(): string {
    return this.http.url;
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

  /** answer `ErrorCode: InternalFailure` for the next `count` entries that match */
  failEntries(match: (e: EventEntry) => boolean, count: number): void {
    this.entryFaults.push({ match, remaining: count });
  }

  close(): Promise<void> {
    return this.http.close();
  }

  details(): Array<Record<string, unknown>> {
    return this.entries.map((e) => JSON.parse(e.Detail) as Record<string, unknown>);
  }

  private handle(req: RecordedRequest): Reply {
    const problems = awsRequestProblems(req, 'application/x-amz-json-1.1', 'AWSEvents.PutEvents', {
      ...this.exp,
      service: 'events',
    });
    let body: { Entries?: EventEntry[] } = {};
    try {
      body = JSON.parse(req.body.toString('utf8'));
    } catch {
      problems.push('body is not JSON');
    }
    const entries = body.Entries;
    if (!Array.isArray(entries) || entries.length === 0) problems.push('Entries required');
    else {
      if (entries.length > MAX_ENTRIES) problems.push(`${entries.length} entries above 10`);
      const size = entries.reduce((n, e) => n + entrySize(e), 0);
      if (size > MAX_BYTES) problems.push(`entries of ${size} bytes above 256 KB`);
      for (const e of entries) {
        if (!e.Source || !e.DetailType || typeof e.Detail !== 'string')
          problems.push('Source, DetailType, Detail required');
        else {
          try {
            const d = JSON.parse(e.Detail);
            if (typeof d !== 'object' || d === null || Array.isArray(d))
              problems.push('Detail must be a JSON object');
          } catch {
            problems.push('Detail is not JSON');
          }
        }
        if (e.Time !== undefined && typeof e.Time !== 'number') problems.push('Time must be epoch seconds');
      }
    }
    if (problems.length > 0) {
      this.violations.push(...problems);
      return awsError(400, 'ValidationException', problems.join('; '));
    }
    const results = (entries as EventEntry[]).map((e) => {
      const f = this.entryFaults.find((x) => x.remaining > 0 && x.match(e));
      if (f) {
        f.remaining--;
        return { ErrorCode: 'InternalFailure', ErrorMessage: 'try again' };
      }
      this.entries.push(e);
      return { EventId: `evt-${++this.seq}` };
    });
    this.requestSizes.push(entries!.length);
    const failed = results.filter((r) => 'ErrorCode' in r).length;
    return {
      status: 200,
      headers: { 'content-type': 'application/x-amz-json-1.1' },
      body: JSON.stringify({ FailedEntryCount: failed, Entries: results }),
    };
  }
}
