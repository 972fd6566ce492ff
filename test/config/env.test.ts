// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are the ${VAR} syntax under test
import { describe, expect, it } from 'vitest';
import { expandEnv, parseFile, secretsOf } from '../../src/config/index.js';

const SECRET = 'sup3r-s3cret-value';

describe('${VAR} expansion', () => {
  it('expands, supports fallbacks and the $${ escape, and reports secrets', () => {
    const env = { A: SECRET, EMPTY: '' };
    const out = expandEnv({ x: 'k=${A}', y: ['${B:-dflt}', '${EMPTY:-fb}', '$${A}'], z: 5 }, env);
    expect(out.value).toEqual({ x: `k=${SECRET}`, y: ['dflt', 'fb', '${A}'], z: 5 });
    expect(out.issues).toEqual([]);
    expect(out.secrets).toEqual([SECRET]);
  });

  it('names a missing variable and where it is used', () => {
    const out = expandEnv({ h: { auth: 'Bearer ${NOPE_TOKEN}' } }, {});
    expect(out.issues).toEqual([{ path: ['h', 'auth'], kind: 'missing', detail: 'NOPE_TOKEN' }]);
  });

  it('flags malformed references', () => {
    expect(expandEnv('${1BAD}', {}).issues[0]?.kind).toBe('syntax');
    expect(expandEnv('abc ${OPEN', {}).issues[0]?.kind).toBe('syntax');
  });

  it('the missing variable is named in the problem; expanded values never appear in any message', () => {
    const text = `
a.example.com:
  interval: 5s
  headers: { authorization: "Bearer \${PRESENT}" }
  post_endpoint: "\${PRESENT}"
  post_api_key: { param_name: k, param_value: "\${ABSENT_VAR}" }
  success_test: { key: v, op: matches, value: "\${PRESENT}" }
  datadog: { url: "\${PRESENT}" }
`;
    const out = parseFile(text, 's.yml', { env: { PRESENT: `(${SECRET}`, DD_API_KEY: SECRET } });
    const codes = out.problems.map((p) => p.code).sort();
    expect(codes).toEqual(['CFG_ENV_MISSING', 'CFG_REGEX', 'CFG_URL', 'CFG_URL']);
    const missing = out.problems.find((p) => p.code === 'CFG_ENV_MISSING')!;
    expect(missing.message).toContain('ABSENT_VAR');
    expect(missing.line).toBe(6);
    for (const p of out.problems) expect(p.message).not.toContain(SECRET);
    expect(out.endpoints).toEqual([]);
  });

  it('secretsOf: from a snapshot-like raw list re-expanded with an environment, skipping short values', () => {
    const out = parseFile(
      'a.example.com:\n  interval: 5s\n  headers: { a: "${S1}", b: "${S2}" }\n  datadog: {}\n',
      'x.yml',
      { env: { S1: SECRET, S2: 'on', DD_API_KEY: 'dd-api-key-1' } },
    );
    expect(out.problems).toEqual([]);
    expect(secretsOf(out.raw, { S1: SECRET, S2: 'on', DD_API_KEY: 'dd-api-key-1' })).toEqual(
      new Set([SECRET, 'dd-api-key-1']),
    );
    expect(secretsOf(out.raw[0]!, { S1: 'other-value' })).toEqual(new Set(['other-value']));
  });
});

describe('values read from the environment are not echoed', () => {
  it('cron and time zone errors do not quote an expanded value', () => {
    const out = parseFile(
      'a.example.com:\n  cron_schedule: "${CRON}"\nb.example.com:\n  cron_schedule: "* * * * *"\n  timezone: "${TZNAME}"\n',
      'e.yml',
      { env: { CRON: '61 7 * * * zz-secret', TZNAME: 'Secret/Zone-zz' } },
    );
    expect(out.problems.map((p) => p.code).sort()).toEqual(['CFG_CRON', 'CFG_TIMEZONE']);
    for (const p of out.problems) {
      expect(p.message).not.toContain('zz');
      expect(p.message).toContain('(from the environment)');
    }
  });
});
