/**
 * The peer certificate of a TLS socket, reduced to what results report: subject, issuer, SANs
 * and expiry. Read once per connection (getPeerX509Certificate parses the DER each call).
 */
import type { X509Certificate } from 'node:crypto';
import net from 'node:net';
import type tls from 'node:tls';
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

export function certOf(socket: tls.TLSSocket): CertSummary | null {
  const x = socket.getPeerX509Certificate();
  return x === undefined ? null : summary(x);
}

export function summary(x: X509Certificate): CertSummary {
  const notAfter = Date.parse(x.validTo);
  return {
    subject: x.subject.replace(/\n/g, ', '),
    issuer: x.issuer.replace(/\n/g, ', '),
    sans: x.subjectAltName ?? '',
    notAfter: Number.isFinite(notAfter) ? notAfter : 0,
  };
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
 * Chain and name verification of a handshake made with rejectUnauthorized: false (so that the
 * certificate can be reported even when it is refused). Null when it passes. Reasons match what
 * a verifying connection reports (`tls: CERT_HAS_EXPIRED`, `tls: ERR_TLS_CERT_ALTNAME_INVALID`).
 */
export function verifyPeer(
  socket: tls.TLSSocket,
  x: X509Certificate | undefined,
  name: string,
): string | null {
  if (!socket.authorized) {
    // A string code at run time, although typed as an Error.
    const code: unknown = socket.authorizationError;
    return reasonOf({ code: typeof code === 'string' ? code : 'UNABLE_TO_VERIFY', library: 'SSL routines' });
  }
  // X509Certificate's own name checks: once getPeerX509Certificate() has run, getPeerCertificate()
  // (what tls.checkServerIdentity reads) comes back empty on Node 20.
  const matched = x === undefined ? undefined : net.isIP(name) ? x.checkIP(name) : x.checkHost(name);
  return matched === undefined ? reasonOf({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' }) : null;
}
