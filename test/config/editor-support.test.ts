/**
 * Editor support (issue 17): the schema's `$id` is the URL where a worker on the default
 * `--listen` serves it; the modelines of the shipped files resolve where the docs say to put the
 * files; .vscode/settings.json maps endpoints.d/*.yml to the schema without a modeline.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { RUN_FLAGS } from '../../src/cli/options.js';
import { SCHEMA_FILE } from '../../src/config/schema.js';
import { SCHEMA_PATH } from '../../src/server/status-server.js';

const ROOT = join(import.meta.dirname, '../..');
const MODELINE = /^# yaml-language-server: \$schema=(\S+)$/m;
const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as { $id: string };

function modelineTarget(text: string, placedAt: string): string {
  const m = MODELINE.exec(text);
  if (!m) throw new Error(`no yaml-language-server modeline (placed at ${placedAt})`);
  return resolve(dirname(placedAt), m[1]!);
}

describe('editor support', () => {
  it('$id is the URL a worker on the default --listen serves the schema at', () => {
    const listen = RUN_FLAGS.listen?.default;
    expect(listen).toBe('127.0.0.1:9464');
    expect(schema.$id).toBe(`http://${listen}${SCHEMA_PATH}`);
  });

  it('endpoints.d/*.yml modelines point at the schema', () => {
    const dir = join(ROOT, 'endpoints.d');
    const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      expect(modelineTarget(readFileSync(join(dir, f), 'utf8'), join(dir, f)), f).toBe(SCHEMA_FILE);
    }
  });

  it('the examples’ modelines point at the schema once copied into endpoints.d/ as their README says', () => {
    const dir = join(ROOT, 'endpoints.d/examples');
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toMatch(/copy it into\s+`endpoints.d\/`/);
    const examples = readdirSync(dir).filter((f) => f.endsWith('.yml.example'));
    expect(examples.length).toBeGreaterThan(0);
    for (const f of examples) {
      const placed = join(ROOT, 'endpoints.d', f.replace(/\.example$/, ''));
      expect(modelineTarget(readFileSync(join(dir, f), 'utf8'), placed), f).toBe(SCHEMA_FILE);
    }
  });

  it('.vscode/settings.json maps endpoints.d/*.yml and *.yaml to the schema', () => {
    const settings = JSON.parse(readFileSync(join(ROOT, '.vscode/settings.json'), 'utf8')) as {
      'yaml.schemas': Record<string, string[]>;
    };
    const entries = Object.entries(settings['yaml.schemas']);
    const match = entries.find(
      ([, globs]) => globs.includes('endpoints.d/*.yml') && globs.includes('endpoints.d/*.yaml'),
    );
    expect(match).toBeDefined();
    expect(resolve(ROOT, match![0])).toBe(SCHEMA_FILE);
    expect(existsSync(SCHEMA_FILE)).toBe(true);
  });
});

describe('the schema under ajv', () => {
  const compile = (opts: Record<string, unknown>) => {
    const logs: string[] = [];
    const push = (...a: unknown[]) => logs.push(a.join(' '));
    const ajv = new Ajv({ ...opts, logger: { log: push, warn: push, error: push } });
    ajv.compile(schema);
    return logs;
  };

  it('compiles in strict mode with strictRequired off (as the build does), without a notice', () => {
    expect(compile({ strict: true, strictRequired: false })).toEqual([]);
  });

  it('compiles with ajv defaults without a notice (no union types: anyOf branches)', () => {
    expect(compile({})).toEqual([]);
  });
});
