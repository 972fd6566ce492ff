/**
 * Local targets for the tcp, tls and dns probes, all on 127.0.0.1 and port 0:
 * - a TCP server whose behaviour is chosen per connection by the first line the client sends
 *   (or, for a client that sends nothing, by the server's `mode`);
 * - a DNS server on node:dgram whose answer is chosen by the query name;
 * - PKI for TLS servers (valid, expired, expiring, wrong name, self-signed, intermediate chain).
 */
import dgram from 'node:dgram';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { openssl } from './certs.js';

// ---------------------------------------------------------------------------------------------
// TCP

export type TcpMode = 'accept' | 'stall' | 'banner' | 'reset';

export interface TcpTarget {
  port: number;
  /** every line clients sent, in order */
  lines: string[];
  close(): Promise<void>;
}

/**
 * `mode` applies when the client sends nothing: accept (hold), stall (hold), banner (write
 * `220 test ready\r\n`). Lines the client sends: `PING` -> `+PONG\r\n`; `WRONG` -> `-ERR nope\r\n`
 * then close; `WRONGOPEN` -> `-ERR nope\r\n` and hold; `FLOOD` -> 70 KB of `x`; `RESET` -> RST;
 * anything else: held open.
 */
export async function startTcpTarget(mode: TcpMode = 'accept'): Promise<TcpTarget> {
  const sockets = new Set<net.Socket>();
  const lines: string[] = [];
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    if (mode === 'banner') s.write('220 test ready\r\n');
    if (mode === 'reset') {
      s.resetAndDestroy();
      return;
    }
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      lines.push(line);
      if (line === 'PING') s.write('+PONG\r\n');
      else if (line === 'WRONG') s.end('-ERR nope\r\n');
      else if (line === 'WRONGOPEN') s.write('-ERR nope\r\n');
      else if (line === 'FLOOD') s.write('x'.repeat(70_000));
      else if (line === 'RESET') s.resetAndDestroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    lines,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// DNS

export interface DnsTarget {
  /** `127.0.0.1:port`, the `server` of a dns probe */
  server: string;
  port: number;
  /** queries received, by name */
  queries: Map<string, number>;
  close(): Promise<void>;
}

const TYPE = { A: 1, CNAME: 5, MX: 15, TXT: 16, AAAA: 28 } as const;

function encodeName(name: string): Buffer {
  const parts = name.split('.').filter((p) => p.length > 0);
  return Buffer.concat([
    ...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)])),
    Buffer.from([0]),
  ]);
}

function rr(type: number, rdata: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0); // the question's name
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(1, 4); // IN
  head.writeUInt32BE(60, 6);
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

function ipv4(a: string): Buffer {
  return Buffer.from(a.split('.').map(Number));
}

/**
 * Names: ok.test (A 203.0.113.7 + .8, AAAA 2001:db8::1, TXT two records, MX two), alias.test
 * (CNAME target.test), wrong.test (A 198.51.100.1), slow.test (no reply), garbage.test (a reply
 * with the right id and a broken body), nx.test (NXDOMAIN), empty.test (no answers),
 * fail.test (SERVFAIL).
 */
export async function startDnsTarget(): Promise<DnsTarget> {
  const sock = dgram.createSocket('udp4');
  const queries = new Map<string, number>();
  sock.on('message', (msg, rinfo) => {
    if (msg.length < 12) return;
    let off = 12;
    const labels: string[] = [];
    while (off < msg.length && msg[off] !== 0) {
      const len = msg[off]!;
      labels.push(msg.subarray(off + 1, off + 1 + len).toString());
      off += len + 1;
    }
    const qEnd = off + 5; // zero byte, qtype, qclass
    const qtype = msg.readUInt16BE(off + 1);
    const name = labels.join('.').toLowerCase();
    queries.set(name, (queries.get(name) ?? 0) + 1);
    if (name === 'slow.test') return;
    const question = msg.subarray(12, qEnd);
    let rcode = 0;
    let answers: Buffer[] = [];
    if (name === 'garbage.test') {
      const bad = Buffer.alloc(12 + 3);
      msg.copy(bad, 0, 0, 2);
      bad.writeUInt16BE(0x8180, 2);
      bad.writeUInt16BE(1, 4);
      bad.writeUInt16BE(1, 6);
      sock.send(bad, rinfo.port, rinfo.address);
      return;
    }
    if (name === 'nx.test') rcode = 3;
    else if (name === 'fail.test') rcode = 2;
    else if (name === 'wrong.test' && qtype === TYPE.A) answers = [rr(TYPE.A, ipv4('198.51.100.1'))];
    else if (name === 'alias.test' && qtype === TYPE.CNAME)
      answers = [rr(TYPE.CNAME, encodeName('target.test'))];
    else if (name === 'ok.test') {
      if (qtype === TYPE.A) answers = [rr(TYPE.A, ipv4('203.0.113.8')), rr(TYPE.A, ipv4('203.0.113.7'))];
      if (qtype === TYPE.AAAA) {
        const v6 = Buffer.alloc(16);
        v6.writeUInt16BE(0x2001, 0);
        v6.writeUInt16BE(0x0db8, 2);
        v6.writeUInt16BE(1, 14);
        answers = [rr(TYPE.AAAA, v6)];
      }
      if (qtype === TYPE.TXT) {
        const txt = (...chunks: string[]) =>
          Buffer.concat(chunks.map((c) => Buffer.concat([Buffer.from([c.length]), Buffer.from(c)])));
        answers = [rr(TYPE.TXT, txt('v=spf1 -all')), rr(TYPE.TXT, txt('part1', 'part2'))];
      }
      if (qtype === TYPE.MX) {
        const mx = (pref: number, host: string) => {
          const p = Buffer.alloc(2);
          p.writeUInt16BE(pref, 0);
          return Buffer.concat([p, encodeName(host)]);
        };
        answers = [rr(TYPE.MX, mx(20, 'mx2.test')), rr(TYPE.MX, mx(10, 'mx1.test'))];
      }
    }
    const head = Buffer.alloc(12);
    msg.copy(head, 0, 0, 2);
    head.writeUInt16BE(0x8180 | rcode, 2);
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(answers.length, 6);
    sock.send(Buffer.concat([head, question, ...answers]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const port = sock.address().port;
  return {
    server: `127.0.0.1:${port}`,
    port,
    queries,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

// ---------------------------------------------------------------------------------------------
// TLS certificates

export interface CertFile {
  certPath: string;
  keyPath: string;
}

export interface ProbeCerts {
  /** root CA the probes trust through ca_file */
  rootCa: string;
  /** CN=localhost, SAN localhost + 127.0.0.1, 30 days, signed by the root */
  valid: CertFile;
  /** expired yesterday */
  expired: CertFile;
  /** expires in 3 days */
  soon: CertFile;
  /** SAN other.example only */
  wrongHost: CertFile;
  /** self-signed localhost */
  selfSigned: CertFile;
  /** signed by an intermediate CA (not trusted itself) */
  viaIntermediate: CertFile;
  /** the intermediate CA certificate (a complete chain serves it after the leaf) */
  intermediate: string;
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const LOCAL_SAN = 'subjectAltName=DNS:localhost,IP:127.0.0.1';

export async function makeProbeCerts(dir: string): Promise<ProbeCerts> {
  await mkdir(dir, { recursive: true });
  const p = (f: string) => join(dir, f);
  const { writeFile } = await import('node:fs/promises');
  await openssl([
    'req',
    '-x509',
    ...KEY,
    '-keyout',
    p('root.key'),
    '-out',
    p('root.crt'),
    '-days',
    '30',
    '-subj',
    '/CN=watcher-probe-root',
  ]);
  const issue = async (
    base: string,
    cn: string,
    days: number,
    ext: string,
    ca = 'root',
  ): Promise<CertFile> => {
    await writeFile(p(`${base}.ext`), `${ext}\n`);
    await openssl([
      'req',
      ...KEY,
      '-keyout',
      p(`${base}.key`),
      '-out',
      p(`${base}.csr`),
      '-subj',
      `/CN=${cn}`,
    ]);
    await openssl([
      'x509',
      '-req',
      '-in',
      p(`${base}.csr`),
      '-CA',
      p(`${ca}.crt`),
      '-CAkey',
      p(`${ca}.key`),
      // not -CAcreateserial: these run concurrently and would share one serial file
      '-set_serial',
      String(Math.floor(Math.random() * 2 ** 48)),
      '-out',
      p(`${base}.crt`),
      '-days',
      String(days),
      '-extfile',
      p(`${base}.ext`),
    ]);
    return { certPath: p(`${base}.crt`), keyPath: p(`${base}.key`) };
  };
  const [valid, expired, soon, wrongHost] = await Promise.all([
    issue('valid', 'localhost', 30, LOCAL_SAN),
    issue('expired', 'localhost', -1, LOCAL_SAN),
    issue('soon', 'localhost', 3, LOCAL_SAN),
    issue('wrong-host', 'other.example', 30, 'subjectAltName=DNS:other.example'),
  ]);
  await issue(
    'inter',
    'watcher-probe-intermediate',
    30,
    'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign',
  );
  const viaIntermediate = await issue('leaf-inter', 'localhost', 30, LOCAL_SAN, 'inter');
  await openssl([
    'req',
    '-x509',
    ...KEY,
    '-keyout',
    p('self.key'),
    '-out',
    p('self.crt'),
    '-days',
    '30',
    '-subj',
    '/CN=localhost',
    '-addext',
    LOCAL_SAN,
  ]);
  return {
    rootCa: p('root.crt'),
    valid,
    expired,
    soon,
    wrongHost,
    selfSigned: { certPath: p('self.crt'), keyPath: p('self.key') },
    viaIntermediate,
    intermediate: p('inter.crt'),
  };
}
