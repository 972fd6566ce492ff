/**
 * config/: read, expand `${VAR}`, validate (JSON Schema via ajv), normalise endpoint files; watch
 * the folder. Everything other modules use is exported here. See docs/CONFIG.md.
 */
export { CFG, type ConfigCode } from './codes.js';
export { DEFAULTS } from './defaults.js';
export { expandEnv } from './env.js';
export {
  assemble,
  type FileEntry,
  type LoadOptions,
  listConfigFiles,
  loadDir,
  loadFiles,
  readConfigFile,
} from './load.js';
export { endpointHash, normalizeEndpoint } from './normalize.js';
export {
  DEFAULT_MAX_ALIAS_COUNT,
  DEFAULT_MAX_FILE_BYTES,
  type ParsedFile,
  type ParseOptions,
  parseFile,
} from './parse-file.js';
export { sortProblems } from './problems.js';
export { endpointFields, SCHEMA_FILE } from './schema.js';
export { MIN_SECRET_LENGTH, secretsOf } from './secrets.js';
export { selfSnapshot } from './self-snapshot.js';
export type { ConfigProblem, ConfigSnapshot, FileStatus, RawEndpoint, RawSelf } from './types.js';
export { parseDuration, parseSize } from './units.js';
export { type ConfigWatcher, type WatchOptions, watchDir } from './watch.js';
