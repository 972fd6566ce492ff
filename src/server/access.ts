/**
 * Access to the API and the dashboard under `--http-token`: `Authorization: Bearer <token>`
 * (scripts, peers) or the session cookie the login form sets (browsers). The cookie holds an
 * HMAC of the token, never the token; it is HttpOnly so page scripts cannot read it, and it stays
 * valid on every worker sharing the token and until the token changes. Tokens never go in URLs.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const SESSION_COOKIE = 'watcher_session';
const SESSION_MAX_AGE_S = 12 * 3600;

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('watcher dashboard session v1').digest('base64url');
}

function cookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

export class Access {
  private readonly session: string | null;

  constructor(private readonly token: string | null) {
    if (token !== null && token.length === 0) throw new RangeError('the HTTP token must not be empty');
    this.session = token === null ? null : sessionValue(token);
  }

  get required(): boolean {
    return this.token !== null;
  }

  allows(req: IncomingMessage): boolean {
    if (this.token === null) return true;
    const header = req.headers.authorization ?? '';
    if (header.startsWith('Bearer ')) return same(header.slice(7), this.token);
    const c = cookie(req, SESSION_COOKIE);
    return c !== null && same(c, this.session!);
  }

  /** The Set-Cookie header for a correct token given to the login form, else null. */
  login(given: string): string | null {
    if (this.token === null || !same(given, this.token)) return null;
    return `${SESSION_COOKIE}=${this.session}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_MAX_AGE_S}`;
  }

  logoutCookie(): string {
    return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;
  }
}

export function loginPage(failed: boolean): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>watcher: sign in</title>
<style>body{margin:0;font:14px/1.4 system-ui,sans-serif;background:#0f1419;color:#e6e6e6;display:grid;place-items:center;height:100vh}
form{background:#182028;padding:24px;border-radius:8px;display:grid;gap:10px;min-width:280px}
input,button{font:inherit;padding:6px 8px;border-radius:4px;border:1px solid #2a3540;background:#0f1419;color:inherit}
button{background:#1f6feb;border:0;cursor:pointer}.err{color:#f85149}</style></head>
<body><form method="post" action="/login" id="login"><h1 style="font-size:18px;margin:0">watcher</h1>
<label for="token">HTTP token (<code>--http-token</code>)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
${failed ? '<div class="err" id="login-error">wrong token</div>' : ''}
<button type="submit">Sign in</button></form></body></html>`;
}
