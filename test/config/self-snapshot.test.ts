/**
 * `--config-source etcd`: the `self` blocks travel as written (`${VAR}` kept) from `watcher apply`'s
 * folder to etcd, and each worker expands them with its own environment (selfSnapshot). What an
 * apply does to the stored key (selfChange) looks at the specs only.
 */
import { describe, expect, it } from 'vitest';
import { selfChange, selfOp } from '../../src/cluster/etcd/desired-self.js';
import { Keys } from '../../src/cluster/etcd/keys.js';
import { parseFile, selfSnapshot } from '../../src/config/index.js';

// biome-ignore lint/suspicious/noTemplateCurlyInString: a ${VAR} reference, expanded by the worker
const FILE = 'self:\n  post_endpoint: ${HOOK}/self\n  post_json_info: { title: "{kind}" }\n';

describe('self blocks stored as written, expanded by each worker', () => {
  it('parseFile keeps the raw self block next to the expanded one', () => {
    const f = parseFile(FILE, 'a.yml', { env: { HOOK: 'http://op.example' } });
    expect(f.problems).toEqual([]);
    expect(f.self?.sinks.postEndpoint).toBe('http://op.example/self');
    expect(f.rawSelf).toEqual({
      file: 'a.yml',
      line: 1,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: as written
      spec: { post_endpoint: '${HOOK}/self', post_json_info: { title: '{kind}' } },
    });
  });

  it('selfSnapshot expands with the worker environment; secrets are kept for redaction', () => {
    const raw = parseFile(FILE, 'a.yml', { env: { HOOK: 'http://op.example' } }).rawSelf!;
    const s = selfSnapshot([raw], { HOOK: 'http://worker-side.example' });
    expect(s.problems).toEqual([]);
    expect(s.endpoints).toEqual([]);
    expect(s.files).toEqual([]);
    expect(s.self.map((x) => x.sinks.postEndpoint)).toEqual(['http://worker-side.example/self']);
    expect([...(s.secrets ?? [])]).toEqual(['http://worker-side.example']);
  });

  it('a block invalid on this worker gives its problems and no sinks; the other blocks work', () => {
    const raw = parseFile(FILE, 'a.yml', { env: { HOOK: 'http://op.example' } }).rawSelf!;
    const other = { file: 'b.yml', line: 3, spec: { post_endpoint: 'http://b.example/self' } };
    const unknown = { file: 'c.yml', line: 1, spec: { interval: '1s' } };
    const s = selfSnapshot([raw, other, unknown], {});
    expect(s.self.map((x) => x.file)).toEqual(['b.yml']);
    expect(s.problems.map((p) => [p.file, p.code])).toEqual([
      ['a.yml', 'CFG_ENV_MISSING'],
      ['a.yml', 'CFG_URL'], // as the folder would say: `/self` is no URL
      ['c.yml', 'CFG_UNKNOWN_FIELD'],
    ]);
  });

  it('selfChange: added, changed, removed, or nothing (paths do not count)', () => {
    const keys = new Keys('t');
    const block = (url: string, file = 'a.yml') => ({ file, line: 1, spec: { post_endpoint: url } });
    const stored = (url: string, file = 'a.yml') => {
      const put = selfOp(keys, 'added', [block(url, file)], 1).request_put!;
      return {
        key: 'k',
        value: Buffer.from(put.value as Buffer),
        createRev: 1,
        modRev: 1,
        version: 1,
        lease: '0',
      };
    };
    expect(selfChange(null, [])).toBeNull();
    expect(selfChange(null, [block('http://a')])).toBe('added');
    expect(selfChange(stored('http://a'), [block('http://a', '/elsewhere/a.yml')])).toBeNull();
    expect(selfChange(stored('http://a'), [block('http://b')])).toBe('changed');
    expect(selfChange(stored('http://a'), [])).toBe('removed');
    expect(selfOp(keys, 'removed', [], 1).request_delete_range?.key?.toString()).toBe('/watcher/t/self');
  });
});
