import { describe, expect, test } from 'vitest';
import { CheckAbort, jsonReason, reasonOf } from '../../src/checks/reasons.js';

const err = (props: Record<string, unknown>, message = 'boom'): Error =>
  Object.assign(new Error(message), props);

describe('reasonOf', () => {
  test.each([
    [new CheckAbort('timeout'), 'timeout'],
    [err({ code: 'UND_ERR_CONNECT_TIMEOUT' }), 'connect timeout'],
    [err({ code: 'ETIMEDOUT', syscall: 'connect' }), 'connect timeout'],
    [err({ code: 'ECONNREFUSED', syscall: 'connect' }), 'connect ECONNREFUSED'],
    [err({ code: 'EHOSTUNREACH', syscall: 'connect' }), 'connect EHOSTUNREACH'],
    [err({ code: 'ECONNRESET', syscall: 'read' }), 'connection reset'],
    [err({ code: 'UND_ERR_SOCKET' }), 'connection reset'],
    [err({ code: 'ENOTFOUND', syscall: 'getaddrinfo' }), 'dns ENOTFOUND'],
    [err({ code: 'EAI_AGAIN', syscall: 'getaddrinfo' }), 'dns EAI_AGAIN'],
    [err({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), 'tls: DEPTH_ZERO_SELF_SIGNED_CERT'],
    [err({ code: 'CERT_HAS_EXPIRED' }), 'tls: CERT_HAS_EXPIRED'],
    [err({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' }), 'tls: ERR_TLS_CERT_ALTNAME_INVALID'],
    [
      err({ code: 'ERR_SSL_WRONG_VERSION_NUMBER', library: 'SSL routines' }),
      'tls: ERR_SSL_WRONG_VERSION_NUMBER',
    ],
    [err({ code: 'HPE_INVALID_CONSTANT' }), 'http: HPE_INVALID_CONSTANT'],
    [err({ code: 'UND_ERR_HEADERS_OVERFLOW' }), 'headers too large'],
    [err({}, 'Redirect loop detected. Cannot redirect to http://x'), 'too many redirects'],
    [err({ name: 'TimeoutError' }), 'timeout'],
    [
      Object.assign(new AggregateError([err({ code: 'ECONNREFUSED', syscall: 'connect' })]), {}),
      'connect ECONNREFUSED',
    ],
    [err({ code: 'EWHATEVER' }), 'error EWHATEVER'],
    [err({ code: 'EMFILE', syscall: 'connect' }), 'local: EMFILE'],
    [err({ code: 'ENFILE', syscall: 'connect' }), 'local: ENFILE'],
    [err({ code: 'ENOBUFS', syscall: 'write' }), 'local: ENOBUFS'],
    [err({ code: 'ENOMEM' }), 'local: ENOMEM'],
    [err({ code: 'EADDRNOTAVAIL', syscall: 'connect' }), 'local: EADDRNOTAVAIL'],
    [err({ code: 'EMFILE', syscall: 'getaddrinfo' }), 'local: EMFILE'],
    [Object.assign(new AggregateError([err({ code: 'EMFILE', syscall: 'connect' })]), {}), 'local: EMFILE'],
    ['a string', 'error'],
  ])('%s -> %s', (e, want) => {
    expect(reasonOf(e)).toBe(want);
  });

  test('unknown messages are cut and lose their URLs', () => {
    const r = reasonOf(
      new Error(`Something odd at https://api.example.com/x?api_key=SECRET ${'z'.repeat(200)}`),
    );
    expect(r.startsWith('error: something odd at <url>')).toBe(true);
    expect(r).not.toContain('SECRET');
    expect(r.length).toBeLessThan(80);
  });
});

describe('jsonReason', () => {
  const reason = (text: string): string => {
    try {
      JSON.parse(text);
      return 'parsed';
    } catch (e) {
      return jsonReason(e, text);
    }
  };
  test.each([
    ['', 'json: empty body'],
    ['{"a":', 'json: unexpected end of input'],
    ['{"a": secret}', 'json: unexpected token'],
    ['{} x', 'json: trailing data'],
    ['<html>', 'json: unexpected token'],
  ])('%j -> %s', (text, want) => {
    expect(reason(text)).toBe(want);
  });
});
