/** Runs the built `watcher` CLI once and returns its exit code and output (never throws on exit ≠ 0). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { WATCHER_MAIN } from './processes.js';

const run = promisify(execFile);

export async function watcher(
  args: string[],
  timeoutMs = 30_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [WATCHER_MAIN, ...args], { timeout: timeoutMs });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
