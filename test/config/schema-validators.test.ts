import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The published schema is compiled into JavaScript at build time (schema/build-validators.mjs),
 * so no process pays ajv's compilation (~90 ms of a cold `watcher validate`).
 */
const ROOT = join(import.meta.dirname, '../..');

describe('validators compiled at build time', () => {
  it('are those of the published schema (a schema edit without a rebuild fails here)', () => {
    const r = spawnSync(process.execPath, ['schema/build-validators.mjs', '--check'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('loading files, valid and invalid, never loads ajv’s schema compiler', () => {
    const script = `
      import { createRequire } from 'node:module';
      const { loadFiles } = await import('./dist/config/index.js');
      const s = await loadFiles(['endpoints.d', 'test/fixtures/config/invalid-duration.yml',
        'test/fixtures/config/invalid-unknown-field.yml']);
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('/ajv/'));
      console.log(JSON.stringify({ problems: s.problems.map((p) => p.code), loaded }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { problems: string[]; loaded: string[] };
    expect(out.problems).toEqual(expect.arrayContaining(['CFG_DURATION', 'CFG_UNKNOWN_FIELD']));
    expect(out.loaded.length).toBeGreaterThan(0); // the runtime helper the compiled code uses
    expect(out.loaded.filter((k) => !k.includes('/ajv/dist/runtime/'))).toEqual([]);
  });
});
