/**
 * Throw-away PKI for TLS tests, made with the openssl CLI: a CA, a server certificate valid for
 * 127.0.0.1/localhost, and client certificates whose CN is an etcd user name (etcd maps the CN to
 * the user under --client-cert-auth when auth is enabled).
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface KeyPair {
  certPath: string;
  keyPath: string;
  cert: Buffer;
  key: Buffer;
}

export interface TestCerts {
  dir: string;
  ca: { certPath: string; cert: Buffer };
  /** CN=localhost, SAN IP:127.0.0.1 + DNS:localhost, usable for serverAuth and clientAuth. */
  server: KeyPair;
  /** The first client (CN = clientNames[0], default "root"). */
  client: KeyPair;
  /** Every client certificate by CN. */
  clients: Record<string, KeyPair>;
}

export interface MakeCertsOptions {
  /** CNs of the client certificates to issue [["root"]]. */
  clientNames?: string[];
}

// EC keys: an order of magnitude cheaper to generate than RSA on a shared 2-core machine.
const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export async function makeCerts(dir: string, opts: MakeCertsOptions = {}): Promise<TestCerts> {
  const clientNames = opts.clientNames ?? ['root'];
  if (clientNames.length === 0) throw new Error('makeCerts: clientNames must not be empty');
  await mkdir(dir, { recursive: true });
  const caCert = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  await openssl([
    'req',
    '-x509',
    ...KEY_ARGS,
    '-keyout',
    caKey,
    '-out',
    caCert,
    '-days',
    '2',
    '-subj',
    '/CN=watcher-test-ca',
  ]);

  const server = await issue(dir, 'server', 'localhost', caCert, caKey, [
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    // etcd 3.4's gRPC gateway dials the server with the server certificate: it needs clientAuth too.
    'extendedKeyUsage=serverAuth,clientAuth',
    'keyUsage=critical,digitalSignature,keyEncipherment',
  ]);
  const clients: Record<string, KeyPair> = {};
  for (const name of clientNames) {
    clients[name] = await issue(dir, `client-${name}`, name, caCert, caKey, [
      'extendedKeyUsage=clientAuth',
      'keyUsage=critical,digitalSignature,keyEncipherment',
    ]);
  }
  return {
    dir,
    ca: { certPath: caCert, cert: await readFile(caCert) },
    server,
    client: clients[clientNames[0]!]!,
    clients,
  };
}

async function issue(
  dir: string,
  base: string,
  cn: string,
  caCert: string,
  caKey: string,
  extensions: string[],
): Promise<KeyPair> {
  if (!/^[A-Za-z0-9._-]+$/.test(cn)) throw new Error(`makeCerts: unsupported CN ${JSON.stringify(cn)}`);
  const keyPath = join(dir, `${base}.key`);
  const csrPath = join(dir, `${base}.csr`);
  const certPath = join(dir, `${base}.crt`);
  const extPath = join(dir, `${base}.ext`);
  await writeFile(extPath, `${extensions.join('\n')}\n`);
  await openssl(['req', ...KEY_ARGS, '-keyout', keyPath, '-out', csrPath, '-subj', `/CN=${cn}`]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csrPath,
    '-CA',
    caCert,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-out',
    certPath,
    '-days',
    '2',
    '-extfile',
    extPath,
  ]);
  return { certPath, keyPath, cert: await readFile(certPath), key: await readFile(keyPath) };
}

export async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 20_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.trim() || e.message}`);
  }
}
