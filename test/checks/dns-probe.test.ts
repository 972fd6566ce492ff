/**
 * The dns probe against a DNS server written in the test (node:dgram): answers, wrong answers,
 * silence, broken replies, NXDOMAIN, SERVFAIL, empty answers, and each record type.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCheck } from '../../src/checks/run-check.js';
import type { CheckSpec, DnsRecordType, SuccessTest } from '../../src/model/endpoint.js';
import { type DnsTarget, startDnsTarget } from '../support/probe-targets.js';
import { freePort } from '../support/processes.js';
import { spec } from './spec.js';

let dns: DnsTarget;
beforeAll(async () => {
  dns = await startDnsTarget();
});
afterAll(async () => {
  await dns?.close();
});

function dnsSpec(
  name: string,
  record: DnsRecordType = 'A',
  successTests: SuccessTest[] = [],
  over: Partial<CheckSpec> = {},
) {
  return spec(`dns://${name}`, {
    timeoutMs: 500,
    successTests,
    probe: { kind: 'dns', record, server: dns.server },
    ...over,
  });
}
const check = (s: CheckSpec) => runCheck(s, Date.now(), 'w-test');
const contains7: SuccessTest = { kind: 'answers', op: 'contains', value: '203.0.113.7' };

describe('dns probe', () => {
  test('A: answers sorted into the values, contains test, dns phase timed', async () => {
    const r = await check(dnsSpec('ok.test', 'A', [contains7]));
    expect(r).toMatchObject({
      ok: true,
      error: null,
      status_code: null,
      values: { answers: '203.0.113.7, 203.0.113.8', answer_count: '2' },
    });
    expect(r.timings?.dns).toBeGreaterThanOrEqual(0);
    expect(dns.queries.get('ok.test')).toBeGreaterThanOrEqual(1);
  });

  test('AAAA, CNAME, TXT (chunks joined), MX (priority and host)', async () => {
    const [aaaa, cname, txt, mx] = await Promise.all([
      check(dnsSpec('ok.test', 'AAAA')),
      check(dnsSpec('alias.test', 'CNAME')),
      check(dnsSpec('ok.test', 'TXT')),
      check(dnsSpec('ok.test', 'MX')),
    ]);
    expect(aaaa.values.answers).toBe('2001:db8::1');
    expect(cname.values.answers).toBe('target.test');
    expect(txt.values.answers).toBe('part1part2, v=spf1 -all');
    expect(mx.values.answers).toBe('10 mx1.test, 20 mx2.test');
    expect([aaaa, cname, txt, mx].every((r) => r.ok)).toBe(true);
  });

  test('matches, ==, and answer_count tests', async () => {
    const m = await check(dnsSpec('ok.test', 'TXT', [{ kind: 'answers', op: 'matches', value: '^v=spf1 ' }]));
    expect(m.ok).toBe(true);
    const eq = await check(
      dnsSpec('ok.test', 'A', [{ kind: 'answers', op: '==', value: '203.0.113.7, 203.0.113.8' }]),
    );
    expect(eq.ok).toBe(true);
    const count = await check(dnsSpec('ok.test', 'A', [{ kind: 'answer_count', op: '>=', value: 3 }]));
    expect(count).toMatchObject({ ok: false, error: 'test: answer_count == 2, expected >= 3' });
  });

  test('a wrong answer fails the test with what was answered', async () => {
    const r = await check(dnsSpec('wrong.test', 'A', [contains7]));
    expect(r).toMatchObject({
      ok: false,
      error: 'test: answers == "198.51.100.1", expected contains "203.0.113.7"',
      values: { answers: '198.51.100.1', answer_count: '1' },
    });
  });

  test('a server that never answers: timeout at the check deadline', async () => {
    const r = await check(dnsSpec('slow.test', 'A', [], { timeoutMs: 300 }));
    expect(r).toMatchObject({ ok: false, error: 'timeout' });
    expect(r.duration_ms).toBeGreaterThanOrEqual(290);
  });

  test('a broken reply: dns EBADRESP, never a throw', async () => {
    const r = await check(dnsSpec('garbage.test', 'A', [], { timeoutMs: 300 }));
    expect(r).toMatchObject({ ok: false, error: 'dns EBADRESP' });
  });

  test('NXDOMAIN, SERVFAIL, no answers', async () => {
    const [nx, fail, empty] = await Promise.all([
      check(dnsSpec('nx.test')),
      check(dnsSpec('fail.test')),
      check(dnsSpec('empty.test')),
    ]);
    expect(nx.error).toBe('dns ENOTFOUND');
    expect(fail.error).toBe('dns ESERVFAIL');
    expect(empty.error).toBe('dns no answers');
  });

  test('no answers pass when a test asks for none', async () => {
    const r = await check(dnsSpec('empty.test', 'A', [{ kind: 'answer_count', op: '==', value: 0 }]));
    expect(r).toMatchObject({ ok: true, values: { answers: '', answer_count: '0' } });
  });

  test('a refused server port (ICMP port unreachable on 127.0.0.1): dns ECONNREFUSED', async () => {
    const r = await check({
      ...dnsSpec('ok.test'),
      probe: { kind: 'dns', record: 'A', server: `127.0.0.1:${await freePort()}` },
    });
    expect(r).toMatchObject({ ok: false, error: 'dns ECONNREFUSED' });
  });
});
