/**
 * `promtool check metrics` (Debian `prometheus`, installed by .ci/run) on a scrape: its
 * complaints as text ('' = clean), or null when promtool is not installed here.
 */
import { spawnSync } from 'node:child_process';

export const PROMTOOL = process.env.WATCHER_TEST_PROMTOOL ?? 'promtool';

export function havePromtool(): boolean {
  return spawnSync(PROMTOOL, ['--version'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

export function promtoolCheck(text: string): string | null {
  if (!havePromtool()) return null;
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  return `${r.stdout}${r.stderr}`.trim();
}
