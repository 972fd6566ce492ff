import net from 'node:net';
import type {
  DnsRecordType,
  ProbeKind,
  ProbeOptions,
  SuccessTest,
  TcpExpect,
  TlsProbeOptions,
} from '../model/endpoint.js';
import { CFG } from './codes.js';
import type { Path } from './yaml-file.js';

/**
 * The `probe:` part of normalisation: which address form, fields and success tests each probe
 * kind takes, and its ProbeOptions. normalize.ts calls it; the rules are in docs/CONFIG.md
 * ("Other probes").
 */

export interface ProblemSink {
  add(path: Path, at: 'key' | 'value', code: string, message: string): void;
  show(path: Path): string;
}

type Spec = Record<string, unknown>;

const ALL: readonly ProbeKind[] = ['http', 'tcp', 'tls', 'dns'];
const HTTP_ONLY = [
  'scheme',
  'method',
  'headers',
  'body',
  'follow_redirects',
  'max_redirects',
  'keepalive',
  'max_body_size',
  'response_json_values',
];

/** Fields that only some probes use; every other field applies to all of them. */
const FIELD_PROBES: Record<string, readonly ProbeKind[]> = {
  ...Object.fromEntries(HTTP_ONLY.map((f) => [f, ['http'] as const])),
  connect_timeout: ['http', 'tcp', 'tls'],
  tls_verify: ['http', 'tcp', 'tls'],
  send: ['tcp'],
  expect: ['tcp'],
  tls: ['tcp'],
  server_name: ['tcp', 'tls'],
  ca_file: ['tcp', 'tls'],
  record: ['dns'],
  server: ['dns'],
};
/** Fields of a tcp probe that need `tls: true`. */
const TCP_TLS_FIELDS = ['server_name', 'ca_file', 'tls_verify'];

const TEST_PROBES: Record<SuccessTest['kind'], readonly ProbeKind[]> = {
  status_code: ['http'],
  json: ['http'],
  latency_ms: ALL,
  cert_expiry_days: ['http', 'tcp', 'tls'],
  answers: ['dns'],
  answer_count: ['dns'],
};

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::([0-9]{1,5}))?$/;
const DNS_NAME = /^(?=.{1,254}$)[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*\.?$/;

function probeList(kinds: readonly ProbeKind[]): string {
  const names = kinds.map((k) => (k === 'http' ? 'http(s)' : k));
  return names.length === 1 ? `probe ${names[0]}` : `probes ${names.join(', ')}`;
}

function plainHost(h: string): string {
  return h.startsWith('[') ? h.slice(1, -1) : h;
}

/**
 * Fields written on the endpoint itself (`own`) that its probe does not use. Fields inherited from
 * `defaults` are ignored instead: one file's defaults serve all its probes. Without `own` (a spec
 * read back from etcd, already validated when it was applied) nothing is reported.
 */
export function checkProbeFields(
  kind: ProbeKind,
  s: Spec,
  own: ReadonlySet<string> | undefined,
  p: ProblemSink,
): void {
  if (own === undefined) return;
  for (const field of own) {
    const kinds = FIELD_PROBES[field];
    if (kinds === undefined || s[field] === undefined) continue;
    if (!kinds.includes(kind)) {
      p.add(
        [field],
        'key',
        CFG.PROBE_FIELD,
        `\`${p.show([field])}\` applies to ${probeList(kinds)} only; this endpoint is probe ${kind}`,
      );
    } else if (kind === 'tcp' && s.tls !== true && TCP_TLS_FIELDS.includes(field)) {
      p.add([field], 'key', CFG.PROBE_FIELD, `\`${p.show([field])}\` needs \`tls: true\` on a tcp probe`);
    }
  }
}

/** Tests the probe cannot evaluate. `paths[i]` is where tests[i] was written. */
export function checkProbeTests(
  kind: ProbeKind,
  s: Spec,
  tests: SuccessTest[],
  paths: Path[],
  p: ProblemSink,
): void {
  tests.forEach((t, i) => {
    const path = paths[i] ?? ['success_test'];
    const kinds = TEST_PROBES[t.kind];
    if (!kinds.includes(kind)) {
      const what =
        t.kind === 'json' ? `\`${p.show(path)}\` (a JSON body test)` : `\`${p.show([...path, t.kind])}\``;
      p.add(
        path,
        'key',
        CFG.PROBE_TEST,
        `${what} applies to ${probeList(kinds)} only; this endpoint is probe ${kind}`,
      );
      return;
    }
    if (t.kind !== 'cert_expiry_days') return;
    const tlsConnection =
      kind === 'tls' ||
      (kind === 'tcp' && s.tls === true) ||
      (kind === 'http' && (s.scheme ?? 'https') === 'https');
    if (!tlsConnection) {
      p.add(
        path,
        'key',
        CFG.PROBE_TEST,
        `\`${p.show([...path, t.kind])}\` needs a TLS connection: probe tls, probe tcp with \`tls: true\`, or scheme https`,
      );
    }
  });
}

export interface ProbeTarget {
  url: string;
  probe: ProbeOptions | undefined;
}

/** URL and options of a non-HTTP probe; null (with a problem) when the key or a field is wrong. */
export function probeTarget(
  kind: Exclude<ProbeKind, 'http'>,
  name: string,
  s: Spec,
  p: ProblemSink,
): ProbeTarget | null {
  if (kind === 'dns') {
    if (!DNS_NAME.test(name)) {
      p.add(
        [],
        'key',
        CFG.PROBE_ADDRESS,
        `endpoint \`${name}\`: probe dns needs a host name to resolve (no port or path)`,
      );
      return null;
    }
    const server = typeof s.server === 'string' ? dnsServer(s.server) : null;
    if (typeof s.server === 'string' && server === null) {
      p.add(
        ['server'],
        'value',
        CFG.DNS_SERVER,
        '`server` must be an IP address with an optional port (10.0.0.2, 10.0.0.2:53, [::1]:53)',
      );
      return null;
    }
    const record = (typeof s.record === 'string' ? s.record : 'A') as DnsRecordType;
    return { url: `dns://${name}`, probe: { kind: 'dns', record, server } };
  }
  const m = HOST_PORT.exec(name);
  const port = m?.[2] === undefined ? null : Number(m[2]);
  if (m === null || (kind === 'tcp' && port === null) || (port !== null && (port < 1 || port > 65535))) {
    const form =
      kind === 'tcp' ? 'host:port (e.g. db.internal:5432)' : 'host[:port] (e.g. www.example.com:443)';
    p.add([], 'key', CFG.PROBE_ADDRESS, `endpoint \`${name}\`: probe ${kind} needs the address as ${form}`);
    return null;
  }
  const host = m[1]!;
  const tls: TlsProbeOptions = {
    serverName: typeof s.server_name === 'string' ? s.server_name : net.isIP(plainHost(host)) ? null : host,
    caFile: typeof s.ca_file === 'string' ? s.ca_file : null,
  };
  if (kind === 'tls') return { url: `tls://${host}:${port ?? 443}`, probe: { kind: 'tls', tls } };
  let expect: TcpExpect | null = null;
  if (typeof s.expect === 'string') expect = { kind: 'contains', value: s.expect };
  else if (s.expect !== null && typeof s.expect === 'object') {
    const pattern = String((s.expect as Spec).matches);
    try {
      new RegExp(pattern);
    } catch (err) {
      const reason = (err instanceof Error ? err.message : String(err)).split(': ').pop();
      p.add(
        ['expect', 'matches'],
        'value',
        CFG.REGEX,
        `\`expect.matches\` is not a valid regular expression: ${reason}`,
      );
      return null;
    }
    expect = { kind: 'matches', pattern };
  }
  return {
    url: `tcp://${host}:${port}`,
    probe: {
      kind: 'tcp',
      send: typeof s.send === 'string' ? s.send : null,
      expect,
      tls: s.tls === true ? tls : null,
    },
  };
}

/** `IP`, `IP:port`, `[IPv6]:port` as c-ares' setServers takes them, or null. */
function dnsServer(v: string): string | null {
  if (net.isIP(v)) return v;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):([0-9]{1,5})$/.exec(v);
  if (m === null) return null;
  const ip = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (!net.isIP(ip) || port < 1 || port > 65535) return null;
  return v;
}
