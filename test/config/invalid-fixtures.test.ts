// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are the ${VAR} syntax under test
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseFile } from '../../src/config/index.js';

/**
 * Every test/fixtures/config/invalid-*.yml with the exact problem it must produce: code, line,
 * column and a fragment of the message. A fixture without a row here fails the test.
 */
const FIXTURES = join(import.meta.dirname, '../fixtures/config');

type Row = [code: string, line: number, col: number, fragment: string];
const EXPECTED: Record<string, Row> = {
  'invalid-alias-bomb.yml': ['CFG_TOO_MANY_ALIASES', 3, 8, 'too many YAML aliases'],
  'invalid-maintenance-order.yml': ['CFG_MAINTENANCE', 5, 43, '`to` must be after `from`'],
  'invalid-aws-without-service.yml': [
    'CFG_REQUIRED',
    3,
    3,
    '`aws_region` needs `post_service: aws-cloudwatch`',
  ],
  'invalid-aws-alarm-period.yml': [
    'CFG_AWS_LIMIT',
    5,
    31,
    'must be 10s or 30s (high resolution) or a multiple of 60s for CloudWatch; got 45s',
  ],
  'invalid-aws-alarm-sub-minute.yml': [
    'CFG_AWS_LIMIT',
    5,
    13,
    'of 30s needs `cloudwatch_high_resolution: true`',
  ],
  'invalid-aws-dimension-ascii.yml': [
    'CFG_AWS_LIMIT',
    5,
    10,
    'the name must be printable ASCII for CloudWatch; got "wéb"',
  ],
  'invalid-aws-dimension-colon.yml': [
    'CFG_AWS_LIMIT',
    5,
    20,
    'a dimension name must not start with ":"; got ":odd"',
  ],
  'invalid-aws-namespace.yml': ['CFG_AWS_LIMIT', 4, 25, 'the "AWS/" prefix is reserved'],
  'invalid-cron-fields.yml': ['CFG_CRON', 2, 18, 'has 4 fields; expected 5'],
  'invalid-cron-range.yml': ['CFG_CRON', 2, 18, 'got value 61 expected range 0-59'],
  'invalid-datadog-check-name.yml': [
    'CFG_DATADOG_LIMIT',
    5,
    17,
    'is 208 characters; Datadog takes at most 200',
  ],
  'invalid-datadog-tag.yml': [
    'CFG_DATADOG_LIMIT',
    4,
    20,
    '`tags[1]` must start with a letter for Datadog; got "9lives"',
  ],
  'invalid-datadog-no-api-key.yml': ['CFG_ENV_MISSING', 3, 3, 'environment variable DD_API_KEY is not set'],
  'invalid-defaults-cron.yml': ['CFG_CRON', 2, 18, 'has 7 fields'],
  'invalid-depends-on-self.yml': ['CFG_DEPENDS_ON', 3, 15, 'must not name the endpoint itself'],
  'invalid-duplicate-endpoint-key.yml': ['CFG_DUPLICATE_KEY', 4, 1, 'duplicate key `a.example.com/health`'],
  'invalid-duplicate-key.yml': ['CFG_DUPLICATE_KEY', 4, 3, 'duplicate key `timeout`'],
  'invalid-duration.yml': ['CFG_DURATION', 3, 12, '`timeout`: "5 sec" is not a duration'],
  'invalid-endpoint-name-scheme.yml': ['CFG_ENDPOINT_NAME', 1, 1, 'write the address without the scheme'],
  'invalid-endpoint-not-mapping.yml': [
    'CFG_ENDPOINT_NOT_MAPPING',
    3,
    23,
    'must be a mapping of fields, got a list',
  ],
  'invalid-endpoint-string.yml': ['CFG_ENDPOINT_NOT_MAPPING', 1, 23, 'got a string'],
  'invalid-env-missing.yml': ['CFG_ENV_MISSING', 4, 20, 'WATCHER_FIXTURE_UNSET_TOKEN is not set'],
  'invalid-env-syntax.yml': ['CFG_ENV_SYNTAX', 3, 9, '`body`: malformed ${...}'],
  'invalid-interval-too-short.yml': ['CFG_RANGE', 2, 13, '`interval` must be at least 100ms'],
  'invalid-latency-op.yml': [
    'CFG_ENUM',
    4,
    25,
    '`success_test[0].latency_ms.op` must be one of ==, !=, <, <=, >, >=',
  ],
  'invalid-max-body-size.yml': ['CFG_SIZE', 3, 18, '"1 megabyte" is not a size'],
  'invalid-misspelt-defaults.yml': [
    'CFG_UNKNOWN_FIELD',
    3,
    1,
    'unknown top-level key `default`; did you mean `defaults`?',
  ],
  'invalid-missing-value.yml': ['CFG_REQUIRED', 4, 7, '`success_test[0]` is missing `value`'],
  'invalid-multiple-documents.yml': ['CFG_YAML_SYNTAX', 3, 1, 'a file must hold one document'],
  'invalid-not-mapping.yml': ['CFG_NOT_MAPPING', 1, 1, 'got a list'],
  'invalid-op-value-type.yml': ['CFG_TYPE', 4, 45, '`success_test[0].value` must be a number with op <'],
  'invalid-op.yml': ['CFG_ENUM', 5, 11, 'got "like"'],
  'invalid-post-endpoint-url.yml': ['CFG_URL', 3, 18, '`post_endpoint` must be an http(s) URL'],
  'invalid-probe-unknown.yml': ['CFG_ENUM', 3, 10, '`probe` must be one of http, tcp, tls, dns; got "udp"'],
  'invalid-probe-tcp-no-port.yml': ['CFG_PROBE_ADDRESS', 1, 1, 'probe tcp needs the address as host:port'],
  'invalid-probe-field.yml': [
    'CFG_PROBE_FIELD',
    3,
    3,
    '`send` applies to probe tcp only; this endpoint is probe http',
  ],
  'invalid-probe-tcp-tls-field.yml': ['CFG_PROBE_FIELD', 4, 3, '`ca_file` needs `tls: true` on a tcp probe'],
  'invalid-probe-test.yml': ['CFG_PROBE_TEST', 5, 7, '`success_test[0].answers` applies to probe dns only'],
  'invalid-cert-expiry-http.yml': ['CFG_PROBE_TEST', 5, 7, 'needs a TLS connection'],
  'invalid-cert-expiry-op.yml': [
    'CFG_ENUM',
    4,
    43,
    '`success_test.cert_expiry_days.op` must be one of ==, !=, <, <=, >, >=',
  ],
  'invalid-dns-server.yml': ['CFG_DNS_SERVER', 4, 11, '`server` must be an IP address with an optional port'],
  'invalid-dns-record.yml': ['CFG_ENUM', 4, 11, '`record` must be one of A, AAAA, CNAME, TXT, MX; got "SRV"'],
  'invalid-dns-name.yml': ['CFG_PROBE_ADDRESS', 5, 1, 'probe dns needs a host name to resolve'],
  'invalid-expect-regex.yml': ['CFG_REGEX', 4, 22, '`expect.matches` is not a valid regular expression'],
  'invalid-expect-field.yml': [
    'CFG_UNKNOWN_FIELD',
    4,
    13,
    'unknown field `expect.match`; did you mean `matches`?',
  ],
  'invalid-json-test-dns.yml': ['CFG_PROBE_TEST', 4, 3, '(a JSON body test) applies to probe http(s) only'],
  'invalid-regex.yml': ['CFG_REGEX', 4, 43, 'not a valid regular expression: Unterminated group'],
  'invalid-required-post-api-key.yml': ['CFG_REQUIRED', 4, 3, '`post_api_key` is missing `param_value`'],
  'invalid-scalar-document.yml': ['CFG_NOT_MAPPING', 1, 1, 'got a string'],
  'invalid-schedule-both.yml': ['CFG_SCHEDULE_BOTH', 3, 3, 'either `interval` or `cron_schedule`, not both'],
  'invalid-schedule-none.yml': ['CFG_SCHEDULE_NONE', 1, 1, 'no schedule'],
  'invalid-scheme.yml': ['CFG_ENUM', 3, 11, '`scheme` must be one of http, https; got "ftp"'],
  'invalid-status-code-range.yml': ['CFG_RANGE', 4, 20, '`success_test[0].status_code` must be <= 599'],
  'invalid-success-test-empty.yml': ['CFG_SCHEMA', 3, 17, '`success_test` must not be empty'],
  'invalid-tab-indent.yml': ['CFG_YAML_SYNTAX', 2, 1, 'Tabs are not allowed'],
  'invalid-threshold.yml': ['CFG_RANGE', 4, 24, '`alert.failure_threshold` must be >= 1'],
  'invalid-timezone.yml': ['CFG_TIMEZONE', 3, 13, 'unknown time zone "Mars/Olympus_Mons"'],
  'invalid-type-boolean.yml': ['CFG_TYPE', 3, 21, '`follow_redirects` must be true or false, got a string'],
  'invalid-unknown-field-defaults.yml': ['CFG_UNKNOWN_FIELD', 4, 5, 'did you mean `failure_threshold`?'],
  'invalid-unknown-field-self.yml': ['CFG_UNKNOWN_FIELD', 3, 3, '`self` takes sink fields only'],
  'invalid-unknown-field.yml': ['CFG_UNKNOWN_FIELD', 3, 3, 'unknown field `timout`; did you mean `timeout`?'],
  'invalid-unknown-test-field.yml': ['CFG_UNKNOWN_FIELD', 4, 9, 'did you mean `status_code`?'],
  'invalid-unquoted-cron-seconds.yml': [
    'CFG_YAML_ALIAS_UNQUOTED_CRON',
    4,
    18,
    'quote the cron expression: cron_schedule: "*/10 * * * * *"',
  ],
  'invalid-unquoted-cron.yml': [
    'CFG_YAML_ALIAS_UNQUOTED_CRON',
    2,
    18,
    'quote the cron expression: cron_schedule: "* * * * *"',
  ],
  'invalid-yaml-syntax.yml': ['CFG_YAML_SYNTAX', 4, 3, 'Flow map in block collection'],
};

const files = readdirSync(FIXTURES)
  .filter((f) => /^invalid-.*\.ya?ml$/.test(f))
  .sort();

describe('invalid fixtures', () => {
  it('has at least 25 fixtures, each with an expectation', () => {
    expect(files.length).toBeGreaterThanOrEqual(25);
    expect(files.filter((f) => !(f in EXPECTED))).toEqual([]);
    expect(Object.keys(EXPECTED).filter((f) => !files.includes(f))).toEqual([]);
  });

  it.each(files)('%s', (name) => {
    const [code, line, col, fragment] = EXPECTED[name]!;
    const text = readFileSync(join(FIXTURES, name), 'utf8');
    const out = parseFile(text, name, { env: { WATCHER_FIXTURE_TOKEN: 'fixture-secret-value' } });
    expect(out.problems).toHaveLength(1);
    const p = out.problems[0]!;
    expect({ file: p.file, code: p.code, line: p.line, col: p.col }).toEqual({ file: name, code, line, col });
    expect(p.message).toContain(fragment);
    // A bad file is ignored as a whole.
    expect(out.endpoints).toEqual([]);
    expect(out.raw).toEqual([]);
    expect(out.self).toBeNull();
  });
});
