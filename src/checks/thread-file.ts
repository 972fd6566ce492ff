/**
 * Where the compiled thread entry lives. Worker threads cannot load .ts files, so when this
 * module runs from src/ (vitest, tsx) the entry is taken from dist/ (`npm run build` first).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WatcherError } from '../model/errors.js';

export function resolveThreadFile(): string {
  const sibling = new URL('./thread.js', import.meta.url);
  if (existsSync(fileURLToPath(sibling))) return sibling.href;
  const built = new URL('../../dist/checks/thread.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built.href;
  throw new WatcherError(
    'WATCHER_THREAD_FILE_MISSING',
    `check thread entry not found next to ${fileURLToPath(import.meta.url)} nor in dist/: run npm run build`,
  );
}
