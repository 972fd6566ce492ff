/**
 * Stable problem codes of the config module. A code never changes meaning once released; add new
 * ones instead. docs/CONFIG.md lists them with an example each.
 */
export const CFG = {
  /** file could not be read (missing, permission, not a regular file) */
  READ: 'CFG_READ',
  /** file larger than the limit (default 8 MiB, `--max-file-bytes`) */
  FILE_TOO_LARGE: 'CFG_FILE_TOO_LARGE',
  /** YAML does not parse */
  YAML_SYNTAX: 'CFG_YAML_SYNTAX',
  /** `cron_schedule: * * * * *` unquoted: YAML reads `*` as an alias */
  YAML_ALIAS_UNQUOTED_CRON: 'CFG_YAML_ALIAS_UNQUOTED_CRON',
  /** the same key twice in one mapping */
  DUPLICATE_KEY: 'CFG_DUPLICATE_KEY',
  /** alias expansion past the limit (billion laughs) */
  TOO_MANY_ALIASES: 'CFG_TOO_MANY_ALIASES',
  /** the document is not a mapping */
  NOT_MAPPING: 'CFG_NOT_MAPPING',
  /** an endpoint's value is not a mapping */
  ENDPOINT_NOT_MAPPING: 'CFG_ENDPOINT_NOT_MAPPING',
  /** an endpoint key that is not host[:port]/path */
  ENDPOINT_NAME: 'CFG_ENDPOINT_NAME',
  UNKNOWN_FIELD: 'CFG_UNKNOWN_FIELD',
  TYPE: 'CFG_TYPE',
  REQUIRED: 'CFG_REQUIRED',
  /** value not among the allowed ones (scheme, method, op, post_service) */
  ENUM: 'CFG_ENUM',
  /** number out of range (thresholds, max_redirects, interval too short) */
  RANGE: 'CFG_RANGE',
  /** any other schema rule */
  SCHEMA: 'CFG_SCHEMA',
  SCHEDULE_BOTH: 'CFG_SCHEDULE_BOTH',
  SCHEDULE_NONE: 'CFG_SCHEDULE_NONE',
  CRON: 'CFG_CRON',
  TIMEZONE: 'CFG_TIMEZONE',
  DURATION: 'CFG_DURATION',
  SIZE: 'CFG_SIZE',
  REGEX: 'CFG_REGEX',
  URL: 'CFG_URL',
  DEPENDS_ON: 'CFG_DEPENDS_ON',
  /** a value AWS CloudWatch refuses on the wire (alarm period, dimension, namespace) */
  AWS_LIMIT: 'CFG_AWS_LIMIT',
  /** a value Datadog refuses or rewrites (tag, check name) */
  DATADOG_LIMIT: 'CFG_DATADOG_LIMIT',
  ENV_MISSING: 'CFG_ENV_MISSING',
  ENV_SYNTAX: 'CFG_ENV_SYNTAX',
  /** the key does not fit the probe (tcp: host:port; tls: host[:port]; dns: a name) */
  PROBE_ADDRESS: 'CFG_PROBE_ADDRESS',
  /** a field written on an endpoint whose probe does not use it (`send` on an HTTP check) */
  PROBE_FIELD: 'CFG_PROBE_FIELD',
  /** a success_test the probe cannot evaluate (`answers` on a tcp check) */
  PROBE_TEST: 'CFG_PROBE_TEST',
  /** dns `server` that is not IP[:port] */
  DNS_SERVER: 'CFG_DNS_SERVER',
  /** the same endpoint in two files: both files get it, neither loads that endpoint */
  DUPLICATE_ENDPOINT: 'CFG_DUPLICATE_ENDPOINT',
  /** a `maintenance` window that is neither { cron, duration } nor { from, to }, or whose from/to do not parse or are out of order */
  MAINTENANCE: 'CFG_MAINTENANCE',
} as const;

export type ConfigCode = (typeof CFG)[keyof typeof CFG];
