import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, createSecretRegistry, routeProcessWarnings } from '../../src/logging.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, stream };
}

describe('logger secret redaction', () => {
  it('removes expanded secrets wherever they appear in a line, including JSON-escaped forms', () => {
    const secrets = createSecretRegistry();
    secrets.set(['s3cr3t-api-key', 'quote"d\\secret']);
    secrets.add('etcd-password-123');
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', secrets, destination: stream });
    log.info({ url: 'https://x/api?api_key=s3cr3t-api-key', nested: { v: 'quote"d\\secret' } }, 'sent');
    log.error({ err: new Error('auth failed for etcd-password-123') }, 'boom etcd-password-123');
    const text = lines.join('');
    expect(text).not.toContain('s3cr3t-api-key');
    expect(text).not.toContain('etcd-password-123');
    expect(text).not.toContain('secret"');
    expect(text.match(/\[REDACTED\]/g)?.length).toBeGreaterThanOrEqual(4);
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
  });

  it('drops secrets that are no longer configured and ignores very short values', () => {
    const secrets = createSecretRegistry();
    secrets.set(['old-secret-value']);
    secrets.set(['abc']);
    expect(secrets.redact('old-secret-value abc')).toBe('old-secret-value abc');
  });

  it('keeps each part of the secrets apart: a new config snapshot leaves the owned jobs’ values', () => {
    const secrets = createSecretRegistry();
    secrets.set(['folder-secret-1']);
    secrets.set(['job-secret-1'], 'jobs');
    secrets.set(['folder-secret-2']);
    expect(secrets.redact('folder-secret-1 folder-secret-2 job-secret-1')).toBe(
      'folder-secret-1 [REDACTED] [REDACTED]',
    );
    secrets.set([], 'jobs');
    expect(secrets.redact('job-secret-1')).toBe('job-secret-1');
  });

  it('redacts authorization headers by path', () => {
    const secrets = createSecretRegistry();
    const { lines, stream } = capture();
    createLogger({ level: 'info', secrets, destination: stream }).info(
      { headers: { authorization: 'Bearer xyz-token' } },
      'req',
    );
    expect(lines.join('')).not.toContain('xyz-token');
  });
});

describe('library diagnostics as JSON', () => {
  it("routes process warnings (the AWS SDK's multi-line NodeVersionSupportWarning) to one JSON line", async () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', secrets: createSecretRegistry(), destination: stream });
    const undo = routeProcessWarnings(log);
    try {
      process.emitWarning(
        'NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)\nwill require node >=22.',
      );
      await new Promise((r) => setImmediate(r));
    } finally {
      undo();
    }
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as { level: string; module: string; msg: string };
    expect(line).toMatchObject({ level: 'warn', module: 'node' });
    expect(line.msg).toContain('will require node >=22');
    expect(process.listeners('warning').length).toBeGreaterThan(0); // Node's own handler is back
  });
});
