import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatProblem } from '../../src/cli/validate.js';

/** `watcher validate` as users run it: the built CLI in a child process (run `npm run build` first). */
const ROOT = join(import.meta.dirname, '../..');
const MAIN = join(ROOT, 'dist/cli/main.js');
const FIX = relative(ROOT, join(ROOT, 'test/fixtures/config'));
const tmp = mkdtempSync(join(tmpdir(), 'watcher-validate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const BASE_ENV = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [MAIN, 'validate', ...args], {
    cwd: ROOT,
    env: { ...BASE_ENV, ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` before the tests`);
});

describe('watcher validate', () => {
  it('exit 0 and a summary for valid files', () => {
    const r = run([join(FIX, 'valid-spec-example.yml')], { DD_API_KEY: 'k-1234567' });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toBe('1 file, 2 endpoints, no problems\n');
  });

  it('--env-optional: unset variables (and problems of the values using them) are warnings, exit 0', () => {
    const file = 'test/fixtures/env-optional/secrets.yml';
    const strict = run([file]);
    expect(strict.code).toBe(1);
    expect(strict.out).toContain('[CFG_ENV_MISSING]');
    const r = run(['--env-optional', file]);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines.slice(0, -1).every((l) => l.startsWith(`warning: ${file}:`))).toBe(true);
    for (const v of ['DD_API_KEY', 'API_TOKEN', 'WEBHOOK_URL', 'WEBHOOK_KEY'])
      expect(r.out).toContain(`environment variable ${v} is not set`);
    expect(lines.at(-1)).toBe('1 file, 0 endpoints, no problems, 5 warnings');
    const json = JSON.parse(run(['--json', '--env-optional', file]).out) as {
      ok: boolean;
      problems: unknown[];
      warnings: { code: string }[];
    };
    expect(json.ok).toBe(true);
    expect(json.problems).toEqual([]);
    expect(json.warnings.filter((w) => w.code === 'CFG_ENV_MISSING')).toHaveLength(4);
    // with the secrets set the file is valid
    const env = {
      DD_API_KEY: 'k-1234',
      API_TOKEN: 't',
      WEBHOOK_URL: 'https://h.example/x',
      WEBHOOK_KEY: 'w-1234',
    };
    expect(run([file], env).out).toBe('1 file, 1 endpoint, no problems\n');
  });

  it('--env-optional keeps real problems as problems (exit 1)', () => {
    const r = run(['--env-optional', 'test/fixtures/env-optional']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^test\/fixtures\/env-optional\/broken\.yml:3:13: .*\[CFG_RANGE\]$/m);
    expect(r.out).toMatch(/^warning: .*OTHER_KEY is not set.*$/m);
  });

  it('the shipped endpoints.d is valid offline', () => {
    const r = run(['endpoints.d']);
    expect(r.out).toMatch(/^\d+ files?, \d+ endpoints?, no problems\n$/);
    expect(r.code).toBe(0);
  });

  it('exit 1, one `path:line:col: message [CODE]` line per problem in stable order, then the summary', () => {
    const r = run([FIX], {
      DD_API_KEY: 'k-1234567',
      WATCHER_TEST_TOKEN: 't-1234567',
      WATCHER_TEST_AWS_KEY: 'a-1234',
      WATCHER_TEST_DD_KEY: 'd-1234',
    });
    expect(r.code).toBe(1);
    const lines = r.out.trimEnd().split('\n');
    const summary = lines.pop()!;
    expect(lines.length).toBeGreaterThanOrEqual(25);
    for (const l of lines) expect(l).toMatch(/^[^:]+\.ya?ml:\d+:\d+: .+ \[CFG_[A-Z_]+\]$/);
    expect(lines).toContain(
      `${join(FIX, 'invalid-unknown-field.yml')}:3:3: unknown field \`timout\`; did you mean \`timeout\`? [CFG_UNKNOWN_FIELD]`,
    );
    expect(lines).toContain(
      `${join(FIX, 'invalid-unquoted-cron.yml')}:2:18: quote the cron expression: cron_schedule: "* * * * *" (unquoted, YAML reads a leading * as an alias) [CFG_YAML_ALIAS_UNQUOTED_CRON]`,
    );
    expect([...lines].sort()).toEqual(lines); // sorted by file, then line (single-digit lines here)
    const invalidFiles = new Set(lines.map((l) => l.split(':')[0])).size;
    expect(summary).toMatch(
      new RegExp(`^\\d+ files, \\d+ endpoints, ${lines.length} problems in ${invalidFiles} files$`),
    );
    expect(run([FIX], { DD_API_KEY: 'k-1234567' }).out).not.toContain('k-1234567');
  });

  it('--json prints one object with files, endpoints and problems', () => {
    const dir = mkdtempSync(join(tmp, 'dup-'));
    writeFileSync(join(dir, 'a.yml'), 'x.example.com:\n  interval: 5s\ny.example.com:\n  interval: 5s\n');
    writeFileSync(join(dir, 'b.yml'), 'x.example.com:\n  interval: 9s\n');
    const r = run(['--json', dir]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j.ok).toBe(false);
    expect(j.summary).toEqual({ files: 2, endpoints: 1, problems: 2, warnings: 0, invalidFiles: 2 });
    expect(j.warnings).toEqual([]);
    expect(j.endpoints).toEqual(['y.example.com']);
    expect(j.files.map((f: { ok: boolean; endpoints: number }) => [f.ok, f.endpoints])).toEqual([
      [false, 1],
      [false, 0],
    ]);
    expect(
      j.problems.map((p: { file: string; line: number; col: number; code: string }) => [
        p.file,
        p.line,
        p.col,
        p.code,
      ]),
    ).toEqual([
      [join(dir, 'a.yml'), 1, 1, 'CFG_DUPLICATE_ENDPOINT'],
      [join(dir, 'b.yml'), 1, 1, 'CFG_DUPLICATE_ENDPOINT'],
    ]);
  });

  it('exit 2 on usage errors: no path, unknown option, missing path', () => {
    const none = run([]);
    expect(none.code).toBe(2);
    expect(none.err).toContain('expected at least one DIR_OR_FILE');
    const flag = run(['--jsn', 'endpoints.d']);
    expect(flag.code).toBe(2);
    expect(flag.err).toContain("unknown option '--jsn'");
    const missing = run([join(tmp, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('cannot read');
    expect(missing.out).toBe('');
    const help = run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Usage: watcher validate');
  });

  it('validates a folder of 1,000 endpoints (speed: bench/config)', () => {
    const dir = mkdtempSync(join(tmp, 'perf-'));
    for (let f = 0; f < 20; f++) {
      let text = '';
      for (let i = 0; i < 50; i++) {
        const k = f * 50 + i;
        text += `h${k}.example.com/health:\n  interval: 30s\n  success_test:\n    - { status_code: 200 }\n    - { key: status, value: ok }\n`;
      }
      writeFileSync(join(dir, `f${f}.yml`), text);
    }
    const r = run([dir]);
    expect(r.out).toBe('20 files, 1000 endpoints, no problems\n');
    expect(r.code).toBe(0);
  });
});

describe('watcher validate --max-file-bytes', () => {
  const file = join(tmp, 'sized.yml');
  beforeAll(() => writeFileSync(file, `# ${'x'.repeat(3000)}\na.example.com:\n  interval: 5s\n`));

  it('a file above the limit is reported at file:1:1, exit 1; the flag and the variable raise it', () => {
    const small = run(['--max-file-bytes', '2KB', file]);
    expect(small.code).toBe(1);
    expect(small.out.split('\n')[0]).toMatch(
      new RegExp(
        `^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:1:1: file is larger than the limit of 2000 bytes .*\\[CFG_FILE_TOO_LARGE\\]$`,
      ),
    );
    expect(run([`--max-file-bytes=4000`, file]).code).toBe(0);
    expect(run([file], { WATCHER_MAX_FILE_BYTES: '1000' }).code).toBe(1);
    expect(run(['--max-file-bytes', '1MiB', file], { WATCHER_MAX_FILE_BYTES: '1000' }).code).toBe(0);
  });

  it('a bad size is a usage error (exit 2)', () => {
    const r = run(['--max-file-bytes', 'lots', file]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--max-file-bytes must be a size (e.g. 8MiB, 2000000), got 'lots'");
    expect(run(['--max-file-bytes']).code).toBe(2);
  });
});

describe('formatProblem', () => {
  it('uses path:line:col, and just the path for whole-file problems', () => {
    expect(formatProblem({ file: 'a.yml', line: 3, col: 5, code: 'CFG_TYPE', message: 'm' })).toBe(
      'a.yml:3:5: m [CFG_TYPE]',
    );
    expect(formatProblem({ file: 'a.yml', line: 0, col: 0, code: 'CFG_READ', message: 'm' })).toBe(
      'a.yml: m [CFG_READ]',
    );
  });
});
