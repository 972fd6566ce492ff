import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDir, loadFiles, parseFile } from '../../src/config/index.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/config');
const tmp = mkdtempSync(join(tmpdir(), 'watcher-config-load-'));
function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmp, 'case-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const GOOD = 'a.example.com/health:\n  interval: 5s\nb.example.com/health:\n  interval: 5s\n';

describe('loadDir', () => {
  it('loads *.yml and *.yaml only, sorted, skipping hidden files', async () => {
    const dir = dirWith({
      'b.yaml': 'b.example.com:\n  interval: 5s\n',
      'a.yml': 'a.example.com:\n  interval: 5s\n',
      'notes.txt': 'x.example.com:\n  interval: 5s\n',
      '.hidden.yml': 'h.example.com:\n  interval: 5s\n',
    });
    const s = await loadDir(dir);
    expect(s.files.map((f) => f.file)).toEqual([join(dir, 'a.yml'), join(dir, 'b.yaml')]);
    expect(s.endpoints.map((e) => e.name)).toEqual(['a.example.com', 'b.example.com']);
    expect(s.files.every((f) => f.ok && f.endpoints === 1 && /^[0-9a-f]{64}$/.test(f.checksum))).toBe(true);
    expect([...s.raw.keys()]).toEqual(['a.example.com', 'b.example.com']);
  });

  it('one bad file: its endpoints are absent, its problems present, the good file still loads', async () => {
    const dir = dirWith({ 'good.yml': GOOD, 'bad.yml': 'c.example.com:\n  interval: 5s\n  timout: 1s\n' });
    const s = await loadDir(dir);
    expect(s.endpoints.map((e) => e.name)).toEqual(['a.example.com/health', 'b.example.com/health']);
    expect(s.problems.map((p) => [p.file, p.line, p.code])).toEqual([
      [join(dir, 'bad.yml'), 3, 'CFG_UNKNOWN_FIELD'],
    ]);
    expect(s.files.map((f) => [f.ok, f.endpoints])).toEqual([
      [false, 0],
      [true, 2],
    ]);
  });

  it('the same endpoint in two files: both files reported, that endpoint loaded from neither, the rest stays', async () => {
    const dir = dirWith({
      'one.yml': GOOD,
      'two.yml':
        '# other team\nc.example.com/health:\n  interval: 5s\nb.example.com/health:\n  interval: 10s\n',
    });
    const s = await loadDir(dir);
    expect(s.endpoints.map((e) => e.name).sort()).toEqual(['a.example.com/health', 'c.example.com/health']);
    expect(s.raw.has('b.example.com/health')).toBe(false);
    expect(s.problems.map((p) => [p.file, p.line, p.code])).toEqual([
      [join(dir, 'one.yml'), 3, 'CFG_DUPLICATE_ENDPOINT'],
      [join(dir, 'two.yml'), 4, 'CFG_DUPLICATE_ENDPOINT'],
    ]);
    expect(s.problems[0]!.message).toContain(`also defined in ${join(dir, 'two.yml')}:4`);
    expect(s.problems[1]!.message).toContain(`also defined in ${join(dir, 'one.yml')}:3`);
    expect(s.files.map((f) => [f.ok, f.endpoints])).toEqual([
      [false, 1],
      [false, 1],
    ]);
  });

  it('a file over the size limit fails with CFG_FILE_TOO_LARGE at file:1:1 without being parsed', async () => {
    const dir = dirWith({
      'big.yml': `# ${'x'.repeat(4000)}\n${GOOD}`,
      'ok.yml': 'z.example.com:\n  interval: 5s\n',
    });
    const s = await loadDir(dir, { maxFileBytes: 1000 });
    expect(s.problems.map((p) => [p.file, p.line, p.col, p.code])).toEqual([
      [join(dir, 'big.yml'), 1, 1, 'CFG_FILE_TOO_LARGE'],
    ]);
    expect(s.problems[0]!.message).toContain('limit of 1000 bytes');
    expect(s.problems[0]!.message).toContain('--max-file-bytes');
    expect(s.endpoints.map((e) => e.name)).toEqual(['z.example.com']);
    const direct = parseFile('a'.repeat(2000), 'x.yml', { maxFileBytes: 1000 }).problems[0];
    expect([direct?.code, direct?.line, direct?.col]).toEqual(['CFG_FILE_TOO_LARGE', 1, 1]);
  });

  it('the default size limit is 8 MiB: a generated file of 10,000 endpoints (~1.4 MB) loads', async () => {
    let text = 'defaults:\n  scheme: http\n  timeout: 2s\n';
    for (let k = 0; k < 10_000; k++) {
      text +=
        `host${k}.example.com:8080/health/${k}:\n  interval: ${10 + (k % 50)}s\n` +
        `  response_json_values: [status]\n  success_test:\n    - { status_code: 200 }\n` +
        `    - { key: status, value: ok }\n  tags: [team:${k % 7}]\n`;
    }
    expect(Buffer.byteLength(text)).toBeGreaterThan(1.3e6);
    const s = await loadDir(dirWith({ 'all.yml': text }));
    expect(s.problems).toEqual([]);
    expect(s.endpoints.length).toBe(10_000);
    const over = await loadDir(dirWith({ 'big.yml': `# ${'x'.repeat(8 * 1024 * 1024)}\n` }));
    expect(over.problems.map((p) => p.code)).toEqual(['CFG_FILE_TOO_LARGE']);
    expect(over.problems[0]!.message).toContain(`limit of ${8 * 1024 * 1024} bytes`);
  });

  it('an alias bomb fails fast, with little memory', () => {
    const text = readFileSync(join(FIXTURES, 'invalid-alias-bomb.yml'), 'utf8');
    const heap = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    const out = parseFile(text, 'bomb.yml');
    const ms = performance.now() - t0;
    expect(out.problems.map((p) => p.code)).toEqual(['CFG_TOO_MANY_ALIASES']);
    expect(ms).toBeLessThan(1000);
    expect(process.memoryUsage().heapUsed - heap).toBeLessThan(64 * 1024 * 1024);
  });

  it('keepEndpoints: false (a cluster worker) keeps no normalised endpoint but everything else of the folder', async () => {
    const dir = dirWith({
      'a.yml':
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${VAR} for the config loader
        'defaults:\n  interval: 5s\na.example.com/x: {}\nb.example.com/x:\n  post_endpoint: https://${HOOK_HOST}/h\nc.example.com/x:\n  cron_schedule: "*/2 * * * *"\nself:\n  post_endpoint: https://self.example/h\n',
      'bad.yml': 'd.example.com:\n  interval: 5s\n  timout: 1s\n',
      'dup.yml': 'a.example.com/x:\n  interval: 7s\n',
    });
    const env = { HOOK_HOST: 'hooks.internal.example' };
    const full = await loadDir(dir, { env });
    const lean = await loadDir(dir, { env, keepEndpoints: false });
    expect(full.endpoints.map((e) => e.name)).toEqual(['b.example.com/x', 'c.example.com/x']);
    expect(lean.endpoints).toEqual([]);
    // what a non-admin worker still needs: the raw definitions (drift, desired state if it becomes
    // admin) with the schedules the admin rates them by, problems per file, self sinks, secrets
    expect(lean.raw).toEqual(full.raw);
    expect(lean.schedules).toEqual(new Map(full.endpoints.map((e) => [e.name, e.schedule])));
    expect(full.schedules).toBeUndefined();
    expect(lean.problems).toEqual(full.problems);
    expect(lean.problems.map((p) => p.code).sort()).toEqual([
      'CFG_DUPLICATE_ENDPOINT',
      'CFG_DUPLICATE_ENDPOINT',
      'CFG_UNKNOWN_FIELD',
    ]);
    expect(lean.files).toEqual(full.files);
    expect(lean.self).toEqual(full.self);
    expect(lean.rawSelf).toEqual(full.rawSelf);
    expect(lean.secrets).toEqual(new Set(['hooks.internal.example']));
  });

  it('a missing folder gives a CFG_READ problem, not an exception', async () => {
    const s = await loadDir(join(tmp, 'nope'));
    expect(s.endpoints).toEqual([]);
    expect(s.problems.map((p) => [p.line, p.code])).toEqual([[0, 'CFG_READ']]);
  });

  it('loadFiles takes files and folders, each file once', async () => {
    const dir = dirWith({ 'a.yml': GOOD, 'c.yml': 'c.example.com:\n  interval: 5s\n' });
    const s = await loadFiles([join(dir, 'a.yml'), dir, join(FIXTURES, 'valid-spec-example.yml')], {
      env: { DD_API_KEY: 'k-123456' },
    });
    expect(s.problems).toEqual([]);
    expect(s.files).toHaveLength(3);
    expect(s.endpoints).toHaveLength(5);
    expect(s.self).toHaveLength(1);
    expect(s.secrets).toEqual(new Set(['k-123456']));
  });
});

describe('a large folder', () => {
  // How fast this is, is measured in bench/config (a timed unit test on a shared box only flakes).
  it('loads 1,000 endpoints in 20 files without a problem', async () => {
    const files: Record<string, string> = {};
    for (let f = 0; f < 20; f++) {
      let text = 'defaults:\n  scheme: http\n  timeout: 2s\n  alert:\n    failure_threshold: 2\n';
      for (let i = 0; i < 50; i++) {
        const k = f * 50 + i;
        const sched =
          k % 2 ? `  interval: ${10 + (k % 50)}s\n` : `  cron_schedule: "*/${1 + (k % 30)} * * * * *"\n`;
        text +=
          `host${k}.example.com:8080/health/${k}:\n${sched}  response_json_values: [status, app]\n` +
          `  success_test:\n    - { status_code: 200 }\n    - { key: status, value: ok }\n` +
          `    - { key: db.latency_ms, op: "<", value: 250 }\n  tags: [team:${k % 7}]\n`;
      }
      files[`file${String(f).padStart(2, '0')}.yml`] = text;
    }
    const dir = dirWith(files);
    const s = await loadDir(dir);
    expect(s.problems).toEqual([]);
    expect(s.endpoints).toHaveLength(1000);
    expect(s.files.every((f) => f.ok && f.endpoints === 50)).toBe(true);
  });
});
