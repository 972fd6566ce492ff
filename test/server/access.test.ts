/**
 * --http-token on the status server: Bearer or the login form's cookie for API, events and
 * dashboard; no token in URLs; health, readiness and metrics open; the cookie is not the token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_COOKIE } from '../../src/server/access.js';
import type { StatusServer } from '../../src/server/status-server.js';
import { openSse, stubServer } from './support.js';

const TOKEN = 'access-test-token-5678';

describe('access with --http-token', () => {
  let server: StatusServer;
  let base: string;
  beforeAll(async () => {
    const s = await stubServer({ token: TOKEN });
    server = s.server;
    base = s.base;
  });
  afterAll(() => server.close());

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { headers, redirect: 'manual', signal: AbortSignal.timeout(3000) });

  it('keeps health, readiness and metrics open', async () => {
    for (const p of ['/healthz', '/readyz', '/metrics']) expect((await get(p)).status, p).toBe(200);
  });

  it('refuses API, events and dashboard without credentials; the page answers with the login form', async () => {
    expect((await get('/api/v1/status')).status).toBe(401);
    expect((await get('/api/v1/status?scope=local')).status).toBe(401);
    expect((await get('/api/v1/events')).status).toBe(401);
    const page = await get('/', { accept: 'text/html' });
    expect(page.status).toBe(401);
    const html = await page.text();
    expect(html).toContain('<form method="post" action="/login"');
    expect(html).not.toContain(TOKEN);
  });

  it('no longer accepts the token in the URL', async () => {
    expect((await get(`/api/v1/status?token=${TOKEN}`)).status).toBe(401);
    expect((await get(`/?token=${TOKEN}`)).status).toBe(401);
  });

  it('accepts Authorization: Bearer, and refuses a wrong one', async () => {
    expect((await get('/api/v1/status', { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    expect((await get('/api/v1/status', { authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
  });

  it('the login form sets an HttpOnly cookie that is not the token and opens API, events and page', async () => {
    const login = (token: string) =>
      fetch(`${base}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
        signal: AbortSignal.timeout(3000),
      });
    const bad = await login('wrong');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();
    expect(await bad.text()).toContain('wrong token');

    const ok = await login(TOKEN);
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/');
    const setCookie = ok.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]+;`));
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(';')[0]!;
    expect((await get('/api/v1/status', { cookie })).status).toBe(200);
    const page = await get('/', { cookie });
    expect(page.status).toBe(200);
    expect(await page.text()).not.toContain(TOKEN);
    const sse = await openSse(`${base}/api/v1/events`, { cookie });
    expect(sse.status).toBe(200);
    sse.close();
    expect((await get('/api/v1/status', { cookie: `${SESSION_COOKIE}=forged` })).status).toBe(401);

    const out = await fetch(`${base}/logout`, { method: 'POST', redirect: 'manual' });
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
  });
});
