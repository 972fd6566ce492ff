/**
 * The dashboard as a person sees it: headless Debian Chromium loads the page of a running
 * standalone worker, which fills the endpoint table from the status API and then updates it live
 * from the SSE stream. Also: the bearer token guards API and dashboard but not health/metrics.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllSpawned, spawnWorker, type WorkerProcess } from '../support/processes.js';
import { startTarget, type Target } from '../support/target.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'dashboard-test-token-1234';

describe.skipIf(!existsSync(CHROMIUM))('dashboard', () => {
  let target: Target;
  let tlsTarget: Target;
  let dir: string;
  let worker: WorkerProcess;
  let browser: Browser;

  beforeAll(async () => {
    [target, tlsTarget] = await Promise.all([startTarget(), startTarget({ tls: true })]);
    dir = mkdtempSync(join(tmpdir(), 'watcher-dash-'));
    const host = target.url.replace('http://', '');
    writeFileSync(
      join(dir, 'a.yml'),
      `${host}/ok:\n  scheme: http\n  interval: 1s\n${host}/status/503:\n  scheme: http\n  interval: 1s\n` +
        `127.0.0.1:${tlsTarget.port}:\n  probe: tls\n  tls_verify: false\n  interval: 1s\n`,
    );
    worker = await spawnWorker({
      id: 'dash',
      etcd: [],
      endpointsDir: dir,
      extraArgs: ['--threads', '1', '--http-token', TOKEN],
    });
    await worker.waitReady(15_000, '/readyz');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await killAllSpawned();
    await Promise.all([target?.close(), tlsTarget?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('requires the token for API and dashboard, not for health and metrics', async () => {
    expect((await worker.http('/api/v1/status')).status).toBe(401);
    expect((await worker.http('/')).status).toBe(401);
    expect((await worker.http('/healthz')).status).toBe(200);
    expect((await worker.http('/metrics')).status).toBe(200);
    const ok = await worker.http('/api/v1/status', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
  });

  it('shows every endpoint with its state and follows live events', async () => {
    const page = await browser.newPage();
    await page.goto(`http://${worker.listen}/?token=${TOKEN}`);
    await page.waitForSelector('#conn.ok', { timeout: 10_000 });
    const down = page.locator('tr[data-endpoint$="/status/503"] td.state');
    await down.filter({ hasText: 'DOWN' }).waitFor({ timeout: 10_000 });
    const up = page.locator('tr[data-endpoint$="/ok"] td.state');
    await up.filter({ hasText: 'UP' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#worker').textContent()).toBe('dash');
    // phases of the latest check (a fresh connection to an IP: connect and first byte)
    await page
      .locator('tr[data-endpoint$="/ok"] td.phases')
      .filter({ hasText: 'conn' })
      .waitFor({ timeout: 10_000 });
    expect(await page.locator('tr[data-endpoint$="/ok"] td.phases').textContent()).toMatch(
      /conn [\d.]+ · ttfb [\d.]+/,
    );
    // days to expiry of a tls endpoint's certificate
    const cert = page.locator(`tr[data-endpoint="127.0.0.1:${tlsTarget.port}"] td.cert`);
    await cert.filter({ hasText: ' d' }).waitFor({ timeout: 10_000 });
    expect(await cert.textContent()).toMatch(/^-?\d+\.\d d$/);
    expect(await page.locator('#down').textContent()).toBe('1');
    await page.screenshot({ path: join(dir, 'dashboard.png') });
    await page.close();
  });
});
