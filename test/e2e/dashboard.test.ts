/**
 * The dashboard as a person sees it, in headless Debian Chromium, against two worker processes on
 * a real etcd with --http-token: the login form lets the browser in (cookie, no token in the URL),
 * one worker's page lists the endpoints of both workers, and an endpoint owned by the *other*
 * worker turning DOWN shows within 3 s. A screenshot is saved under test-artifacts/.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusDoc } from '../../src/server/status-doc.js';
import { CHROMIUM, launchChromium } from '../support/browser.js';
import { watcher } from '../support/cli.js';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { type FlipTarget, startFlipTarget } from '../support/flip-target.js';
import { killAllSpawned, REPO_ROOT, spawnWorker, type WorkerProcess } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';
import { waitFor } from '../support/wait.js';

const TOKEN = 'dashboard-test-token-1234';
const N = 10;
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

describe.skipIf(!existsSync(CHROMIUM))('dashboard (two workers on etcd, headless Chromium)', () => {
  let etcd: EtcdCluster;
  let target: FlipTarget;
  let tlsTarget: Target;
  let dir: string;
  let w1: WorkerProcess;
  let w2: WorkerProcess;
  let browser: Browser;
  const auth = { authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    etcd = await startEtcdCluster({ members: 1 });
    target = await startFlipTarget();
    tlsTarget = await startTarget({ tls: true });
    dir = mkdtempSync(join(tmpdir(), 'watcher-dash-'));
    const lines: string[] = [];
    for (let i = 0; i < N; i++) lines.push(`${target.host}/d${i}:`, '  scheme: http', '  interval: 1s');
    lines.push(
      `${target.host}/child:`,
      '  scheme: http',
      '  interval: 1s',
      `  depends_on: [${target.host}/d0]`,
      // a tls probe: its row shows the days to the certificate's expiry
      `127.0.0.1:${tlsTarget.port}:`,
      '  probe: tls',
      '  tls_verify: false',
      '  interval: 1s',
    );
    writeFileSync(join(dir, 'jobs.yml'), `${lines.join('\n')}\n`);
    const common = {
      etcd: etcd.clientUrls,
      endpointsDir: dir,
      leaseTtl: 10,
      extraArgs: ['--cluster', 'dash', '--threads', '1', '--http-token', TOKEN],
    };
    w1 = await spawnWorker({ id: 'dash-1', ...common });
    await w1.waitReady(20_000, '/readyz');
    w2 = await spawnWorker({ id: 'dash-2', ...common });
    await w2.waitReady(20_000, '/readyz');
    await waitFor(
      async () => {
        const s = (await w1.http('/api/v1/status', { headers: auth })).json<StatusDoc>();
        return new Set(s.endpoints.filter((e) => e.state !== null).map((e) => e.owner)).size === 2;
      },
      { timeoutMs: 30_000, intervalMs: 300, message: 'both workers report endpoints' },
    );
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await killAllSpawned();
    await target?.close();
    await tlsTarget?.close();
    await etcd?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("logs in with the form, lists both workers' endpoints, shows the other worker's DOWN within 3 s", async () => {
    const page = await browser.newPage();
    await page.goto(`http://${w1.listen}/`);
    // not signed in: the login form, then the dashboard; the token never appears in a URL
    await page.fill('#token', 'wrong');
    await page.click('button[type=submit]');
    await page.locator('#login-error').waitFor({ timeout: 5000 });
    await page.fill('#token', TOKEN);
    await page.click('button[type=submit]');
    await page.waitForSelector('#conn.ok', { timeout: 10_000 });
    expect(page.url()).toBe(`http://${w1.listen}/`);
    const cookies = await page.context().cookies();
    expect(cookies.map((c) => [c.name, c.httpOnly])).toEqual([['watcher_session', true]]);
    expect(cookies[0]!.value).not.toContain(TOKEN);
    expect(await page.content()).not.toContain(TOKEN);

    await waitFor(async () => (await page.locator('.row[data-endpoint]:not([hidden])').count()) === N + 2, {
      timeoutMs: 10_000,
      message: 'every endpoint listed',
    });
    const owners = await page.locator('.row:not([hidden]) span:nth-child(3)').allTextContents();
    expect(new Set(owners)).toEqual(new Set(['dash-1', 'dash-2']));
    expect(await page.locator('#worker').textContent()).toBe('dash-1');
    expect(await page.locator('#workers tr').count()).toBe(2);
    // the latest check's phases, and the tls endpoint's days to certificate expiry
    await page.locator('.row .phases', { hasText: 'conn' }).first().waitFor({ timeout: 10_000 });
    expect(await page.locator('.row .phases', { hasText: 'conn' }).first().textContent()).toMatch(
      /conn [\d.]+/,
    );
    const cert = page.locator(`.row[data-endpoint="127.0.0.1:${tlsTarget.port}"] .cert`);
    await cert.filter({ hasText: ' d' }).waitFor({ timeout: 10_000 });
    expect(await cert.textContent()).toMatch(/^-?\d+\.\d d$/);
    await page.locator('#graph g[data-node]').first().waitFor({ timeout: 5000 });
    expect(await page.locator('#graph g[data-node]').count()).toBe(2);

    const s = (await w1.http('/api/v1/status?scope=local', { headers: auth })).json<StatusDoc>();
    const mine = new Set(s.endpoints.map((e) => e.name));
    const theirs = [...Array(N).keys()].map((i) => `${target.host}/d${i}`).find((n) => !mine.has(n))!;
    expect(theirs).toBeDefined();
    // sparkline drawn from the history
    await page
      .locator(`.row[data-endpoint="${theirs}"] polyline[points*=","]`)
      .waitFor({ timeout: 5000, state: 'attached' });

    target.set(`/${theirs.split('/').pop()}`, 503);
    const flipped = Date.now();
    // DOWN after 3 failures (interval 1 s): the first failing check is due within 1 s
    await page.locator(`.row[data-endpoint="${theirs}"] .state.DOWN`).waitFor({ timeout: 10_000 });
    const shownAfter = Date.now() - flipped;
    const downAt = (await w2.http('/api/v1/status?scope=local', { headers: auth }))
      .json<StatusDoc>()
      .endpoints.find((e) => e.name === theirs)!.since;
    // from the moment the owner decided DOWN to the moment the other worker's page shows it
    expect(Date.now() - downAt).toBeLessThan(3000);
    expect(shownAfter).toBeLessThan(10_000);
    await page
      .locator('#feed li', { hasText: `${theirs}: UNKNOWN → DOWN` })
      .or(page.locator('#feed li', { hasText: `${theirs}: UP → DOWN` }))
      .first()
      .waitFor({ timeout: 3000 });
    expect(await page.locator('#down').textContent()).toBe('1');

    // an operator command in force: listed with author and reason, its endpoint's row marked
    const silenced = `${target.host}/d1`;
    const cmd = await watcher([
      'silence',
      silenced,
      '--for',
      '1h',
      '--reason',
      'dashboard test deploy',
      '--etcd',
      etcd.clientUrls.join(','),
      '--cluster',
      'dash',
    ]);
    expect(cmd.code, cmd.stderr).toBe(0);
    const listed = page.locator('#commands li', { hasText: 'dashboard test deploy' });
    await listed.waitFor({ timeout: 10_000 });
    expect(await listed.textContent()).toMatch(
      new RegExp(
        `^silence ${silenced.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} by .+: dashboard test deploy  \\(until \\d{4}-`,
      ),
    );
    await page
      .locator(`.row[data-endpoint="${silenced}"]`, { hasText: '(silenced)' })
      .waitFor({ timeout: 10_000 });

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-cluster.png'), fullPage: true });
    await page.close();
  });
});
