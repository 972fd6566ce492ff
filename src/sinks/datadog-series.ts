import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import type { CheckResult } from '../model/result.js';
import { lagMs } from '../model/result.js';
import type { DatadogSinkConfig } from './datadog-service-checks.js';
import { httpPost, sendEach } from './http.js';
import type { ItemOutcome, SendReport, Sink, SinkLimits } from './types.js';

const gzip = promisify(gzipCb);

/** The points one result contributes: three gauges sharing tags and timestamp. */
export interface SeriesItem {
  tags: string[];
  /** epoch seconds */
  timestamp: number;
  up: 0 | 1;
  latencyMs: number;
  lagMs: number;
}

export const SERIES_METRICS = {
  up: 'watcher.check.up',
  latency: 'watcher.check.latency_ms',
  lag: 'watcher.check.lag_ms',
} as const;

/** Datadog's documented limits: 500 KB compressed (kept strictly below), 5 MB decompressed. */
export const SERIES_MAX_COMPRESSED_BYTES = 500_000 - 1;
export const SERIES_MAX_UNCOMPRESSED_BYTES = 5_000_000;

/** Gauge type in the v2 API. */
const GAUGE = 3;

interface V2Series {
  metric: string;
  type: number;
  points: Array<{ timestamp: number; value: number }>;
  tags: string[];
  unit?: string;
}

export function seriesItemFor(r: CheckResult, tags: string[]): SeriesItem {
  return {
    tags,
    timestamp: Math.floor(r.started_at / 1000),
    up: r.ok ? 1 : 0,
    latencyMs: Math.round(r.duration_ms * 1000) / 1000,
    lagMs: Math.max(0, lagMs(r)),
  };
}

/** One series per (metric, tag set), points of every item merged into it. */
export function seriesPayload(items: SeriesItem[]): { series: V2Series[] } {
  const byKey = new Map<string, V2Series>();
  const add = (
    metric: string,
    unit: string | undefined,
    tags: string[],
    timestamp: number,
    value: number,
  ) => {
    const key = `${metric}\u0000${tags.join('\u0001')}`;
    let s = byKey.get(key);
    if (!s) {
      s = { metric, type: GAUGE, points: [], tags, ...(unit ? { unit } : {}) };
      byKey.set(key, s);
    }
    s.points.push({ timestamp, value });
  };
  for (const it of items) {
    add(SERIES_METRICS.up, undefined, it.tags, it.timestamp, it.up);
    add(SERIES_METRICS.latency, 'millisecond', it.tags, it.timestamp, it.latencyMs);
    add(SERIES_METRICS.lag, 'millisecond', it.tags, it.timestamp, it.lagMs);
  }
  return { series: [...byKey.values()] };
}

interface Chunk {
  from: number;
  to: number;
  body: Buffer;
}

/** Gauges through `POST /api/v2/series`, gzip-compressed, split so every request fits the limits. */
export class DatadogSeriesSink implements Sink<SeriesItem> {
  readonly name: string;
  readonly limits: SinkLimits = { maxItems: 2000, maxBytes: 2_000_000 };
  private readonly maxCompressed: number;

  constructor(private readonly cfg: DatadogSinkConfig & { maxCompressedBytes?: number }) {
    this.name = cfg.name;
    this.maxCompressed = Math.min(
      cfg.maxCompressedBytes ?? SERIES_MAX_COMPRESSED_BYTES,
      SERIES_MAX_COMPRESSED_BYTES,
    );
  }

  sizeOf(item: SeriesItem): number {
    return 3 * (90 + item.tags.reduce((n, t) => n + t.length + 3, 0));
  }

  async send(batch: SeriesItem[], signal: AbortSignal): Promise<SendReport | undefined> {
    const outcomes: ItemOutcome[] = batch.map(() => 'drop');
    const chunks: Chunk[] = [];
    await this.encode(batch, 0, batch.length, chunks);
    const report = await sendEach(chunks, (c) =>
      httpPost({
        url: `${this.cfg.baseUrl}/api/v2/series`,
        headers: {
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          'dd-api-key': this.cfg.apiKey,
        },
        body: c.body,
        signal,
        timeoutMs: this.cfg.timeoutMs,
      }),
    );
    let covered = 0;
    chunks.forEach((c, i) => {
      const o = report ? (report.outcomes[i] ?? 'retry') : 'sent';
      for (let k = c.from; k < c.to; k++) outcomes[k] = o;
      covered += c.to - c.from;
    });
    if (!report && covered === batch.length) return undefined;
    return {
      outcomes,
      error: report?.error ?? 'series item larger than the request limit',
      ...(report?.retryAfterMs === undefined ? {} : { retryAfterMs: report.retryAfterMs }),
    };
  }

  /** halves [from, to) until each part fits; a single item that cannot fit is left out (dropped) */
  private async encode(items: SeriesItem[], from: number, to: number, out: Chunk[]): Promise<void> {
    if (from >= to) return;
    const json = JSON.stringify(seriesPayload(items.slice(from, to)));
    const fitsRaw = Buffer.byteLength(json) <= SERIES_MAX_UNCOMPRESSED_BYTES;
    const body = fitsRaw ? await gzip(json) : null;
    if (body && body.length <= this.maxCompressed) {
      out.push({ from, to, body });
      return;
    }
    if (to - from === 1) return;
    const mid = from + Math.ceil((to - from) / 2);
    await this.encode(items, from, mid, out);
    await this.encode(items, mid, to, out);
  }
}
