import { describe, expect, it } from 'vitest';
import { normalizeEndpoint, parseFile } from '../../src/config/index.js';

/** SPEC.md "Other probes": the tcp, tls and dns examples as written. */
const SPEC_EXAMPLE = `
defaults:
  scheme: https          # HTTP-only fields inherited from defaults are ignored by other probes
  follow_redirects: false
  alert: { failure_threshold: 2 }

db.internal:5432:
  probe: tcp
  interval: 10s
  send: "PING\\r\\n"
  expect: "PONG"

www.fabricsounds.com:443:
  probe: tls
  interval: 1h
  server_name: www.fabricsounds.com
  ca_file: /etc/ssl/private-ca.pem
  success_test:
    - { cert_expiry_days: { op: ">", value: 14 } }

fabricsounds.com:
  probe: dns
  interval: 30s
  record: A
  server: 10.0.0.2:53
  success_test:
    - { answers: { op: contains, value: "203.0.113.7" } }

smtp.internal:465:
  probe: tcp
  interval: 1m
  tls: true
  tls_verify: false
  expect: { matches: "^220 (?<greeting>\\\\S+)" }

127.0.0.1:8443:
  probe: tls
  interval: 1m

www.fabricsounds.com/health:
  interval: 30s
  success_test:
    - { status_code: 200 }
    - { cert_expiry_days: { op: ">=", value: 7 } }
`;

function load() {
  const out = parseFile(SPEC_EXAMPLE, 'p.yml', { env: {} });
  expect(out.problems).toEqual([]);
  return { byName: new Map(out.endpoints.map((e) => [e.name, e])), raw: out.raw };
}

describe('probe endpoints', () => {
  it('tcp: url tcp://host:port, send and expect, no implicit test', () => {
    const e = load().byName.get('db.internal:5432')!;
    expect(e.url).toBe('tcp://db.internal:5432');
    expect(e.probe).toEqual({
      kind: 'tcp',
      send: 'PING\r\n',
      expect: { kind: 'contains', value: 'PONG' },
      tls: null,
    });
    expect(e.successTests).toEqual([]);
    expect(e.alert.failureThreshold).toBe(2);
  });

  it('tcp with tls: server name from the key, expect regex', () => {
    const e = load().byName.get('smtp.internal:465')!;
    expect(e.probe).toEqual({
      kind: 'tcp',
      send: null,
      expect: { kind: 'matches', pattern: '^220 (?<greeting>\\S+)' },
      tls: { serverName: 'smtp.internal', caFile: null },
    });
    expect(e.tlsVerify).toBe(false);
  });

  it('tls: server_name, ca_file, cert_expiry_days; an IP key has no SNI and port defaults to 443 only when absent', () => {
    const { byName } = load();
    const e = byName.get('www.fabricsounds.com:443')!;
    expect(e.url).toBe('tls://www.fabricsounds.com:443');
    expect(e.probe).toEqual({
      kind: 'tls',
      tls: { serverName: 'www.fabricsounds.com', caFile: '/etc/ssl/private-ca.pem' },
    });
    expect(e.successTests).toEqual([{ kind: 'cert_expiry_days', op: '>', value: 14 }]);
    expect(byName.get('127.0.0.1:8443')!.probe).toEqual({
      kind: 'tls',
      tls: { serverName: null, caFile: null },
    });
  });

  it('dns: record, server, answers test', () => {
    const e = load().byName.get('fabricsounds.com')!;
    expect(e.url).toBe('dns://fabricsounds.com');
    expect(e.probe).toEqual({ kind: 'dns', record: 'A', server: '10.0.0.2:53' });
    expect(e.successTests).toEqual([{ kind: 'answers', op: 'contains', value: '203.0.113.7' }]);
  });

  it('https: cert_expiry_days next to the status test; HTTP endpoints carry no probe options', () => {
    const e = load().byName.get('www.fabricsounds.com/health')!;
    expect(e.url).toBe('https://www.fabricsounds.com/health');
    expect(e.probe).toBeUndefined();
    expect(e.successTests[1]).toEqual({ kind: 'cert_expiry_days', op: '>=', value: 7 });
  });

  it('a probe spec read back from etcd (JSON round trip) normalises to the same endpoint', () => {
    const { byName, raw } = load();
    for (const r of raw) {
      const back = normalizeEndpoint(JSON.parse(JSON.stringify(r)), {});
      if (!('endpoint' in back)) throw new Error(JSON.stringify(back.problems));
      expect(back.endpoint).toEqual(byName.get(r.name));
    }
  });

  it('a field of another probe written on the endpoint is a problem; the same field in defaults is not', () => {
    const bad = parseFile('a.example.com:53:\n  probe: tcp\n  interval: 5s\n  record: A\n', 'b.yml', {
      env: {},
    });
    expect(bad.problems.map((p) => [p.code, p.line, p.col])).toEqual([['CFG_PROBE_FIELD', 4, 3]]);
    const ok = parseFile(
      'defaults:\n  record: A\na.example.com:53:\n  probe: tcp\n  interval: 5s\n',
      'g.yml',
      {
        env: {},
      },
    );
    expect(ok.problems).toEqual([]);
  });
});
