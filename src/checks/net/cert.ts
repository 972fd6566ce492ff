/**
 * The peer certificate of a TLS connection, reduced to what results report: subject, issuer,
 * SANs and expiry.
 *
 * Node's client already reads the peer certificate during the handshake, to check the server's
 * name (getPeerCertificate(true), about a quarter of a tls check's CPU): `capturingIdentity`
 * keeps that object instead of reading it again. When chain verification failed first, Node
 * skips the name check, and the certificate is read once more with `certOf`.
 */
import tls from 'node:tls';
import { reasonOf } from '../reasons.js';

export interface CertSummary {
  subject: string;
  issuer: string;
  /** `DNS:example.com, IP Address:127.0.0.1` as X.509 writes them */
  sans: string;
  /** epoch ms of notAfter */
  notAfter: number;
}

const DAY_MS = 86_400_000;

/** `CN=www.example.com, O=Example` from Node's subject/issuer object. */
function dn(names: Record<string, string | string[]> | undefined): string {
  if (names === undefined) return '';
  let out = '';
  for (const k in names) {
    const v = names[k]!;
    for (const x of Array.isArray(v) ? v : [v]) out += `${out === '' ? '' : ', '}${k}=${x}`;
  }
  return out;
}

export function summaryOf(c: tls.PeerCertificate | undefined): CertSummary | null {
  if (c === undefined || c.valid_to === undefined) return null;
  const notAfter = Date.parse(c.valid_to);
  return {
    subject: dn(c.subject as unknown as Record<string, string | string[]>),
    issuer: dn(c.issuer as unknown as Record<string, string | string[]>),
    sans: c.subjectaltname ?? '',
    notAfter: Number.isFinite(notAfter) ? notAfter : 0,
  };
}

export function certOf(socket: tls.TLSSocket): CertSummary | null {
  return summaryOf(socket.getPeerCertificate());
}

/** A slot for the certificate Node reads during the handshake, and the hook that fills it. */
export interface IdentityCapture {
  cert: tls.PeerCertificate | undefined;
  check: (host: string, cert: tls.PeerCertificate) => Error | undefined;
}

export function capturingIdentity(): IdentityCapture {
  const cap: IdentityCapture = {
    cert: undefined,
    check: (host, cert) => {
      cap.cert = cert;
      return tls.checkServerIdentity(host, cert);
    },
  };
  return cap;
}

/** The connection's certificate: the one captured during the handshake, else read now. */
export function peerCert(socket: tls.TLSSocket, cap: IdentityCapture): CertSummary | null {
  return cap.cert !== undefined ? summaryOf(cap.cert) : certOf(socket);
}

export function expiryDays(cert: CertSummary, now: number): number {
  return (cert.notAfter - now) / DAY_MS;
}

/** Template values of a certificate (also read by the main thread for the expiry gauge). */
export function certValues(
  cert: CertSummary,
  now: number,
  into: Record<string, string> = {},
): Record<string, string> {
  into.cert_subject = cert.subject;
  into.cert_issuer = cert.issuer;
  into.cert_sans = cert.sans;
  into.cert_not_after = new Date(cert.notAfter).toISOString();
  into.cert_expiry_days = expiryDays(cert, now).toFixed(1);
  return into;
}

/**
 * Verdict of a handshake made with rejectUnauthorized: false (so that a refused certificate can
 * still be reported): Node's chain verification and, when the chain passed, its name check.
 * Null when both pass. Reasons match what a verifying connection reports (`tls:
 * CERT_HAS_EXPIRED`, `tls: ERR_TLS_CERT_ALTNAME_INVALID`).
 */
export function verifyPeer(socket: tls.TLSSocket): string | null {
  if (socket.authorized) return null;
  // A string code at run time, although typed as an Error.
  const code: unknown = socket.authorizationError;
  return reasonOf({ code: typeof code === 'string' ? code : 'UNABLE_TO_VERIFY', library: 'SSL routines' });
}
