import type { Endpoint, Schedule, SelfTargets } from '../model/endpoint.js';

/** One problem in one file. Every problem has a position so editors and `validate` can point at it. */
export interface ConfigProblem {
  file: string;
  /** 1-based; 0 when the problem concerns the whole file (unreadable, too large) */
  line: number;
  col: number;
  /** stable code, e.g. `CFG_YAML_SYNTAX`, `CFG_UNKNOWN_FIELD`, `CFG_DUPLICATE_ENDPOINT` */
  code: string;
  /** human message; never contains an expanded secret */
  message: string;
}

export interface FileStatus {
  file: string;
  ok: boolean;
  endpoints: number;
  /** sha256 of the file bytes: an unchanged file is not re-parsed on reload */
  checksum: string;
}

/**
 * The state of a folder at one moment. Endpoints come only from files without problems; a bad
 * file contributes its problems and nothing else (it never removes another file's endpoints).
 * One exception: an endpoint defined in two files is a problem of both files (CFG_DUPLICATE_ENDPOINT)
 * and is loaded from neither, while the other endpoints of those files stay loaded.
 */
export interface ConfigSnapshot {
  /**
   * The normalised endpoints; empty when loaded with `keepEndpoints: false` (a cluster worker: the
   * jobs it runs come from etcd; `raw` and `schedules` are what the admin reconciles from).
   */
  endpoints: Endpoint[];
  self: SelfTargets[];
  problems: ConfigProblem[];
  files: FileStatus[];
  /** the raw (merged with defaults, NOT env-expanded) definition of each endpoint, by name; see normalizeEndpoint */
  raw: Map<string, RawEndpoint>;
  /** each file's `self` block as written (NOT env-expanded), in file order: what `watcher apply` stores */
  rawSelf: RawSelf[];
  /**
   * The schedule of each endpoint of `raw`, by name, when the snapshot was loaded with
   * `keepEndpoints: false` (otherwise each endpoint's `schedule` says it): the admin's job rates.
   */
  schedules?: ReadonlyMap<string, Schedule>;
  /**
   * Values that came from `${VAR}` expansion in any file of the folder, for log redaction (see
   * secretsOf). Optional so that hand-built snapshots (tests) need not set it.
   */
  secrets?: ReadonlySet<string>;
}

/** An endpoint as written (defaults merged), before `${VAR}` expansion. This is what the cluster stores in etcd. */
export interface RawEndpoint {
  name: string;
  file: string;
  line: number;
  /** merged mapping, JSON-compatible, `${VAR}` left as written */
  spec: Record<string, unknown>;
}

/** A file's `self` block as written, before `${VAR}` expansion (`--config-source etcd` stores these). */
export interface RawSelf {
  file: string;
  line: number;
  /** the mapping under `self:`, JSON-compatible, `${VAR}` left as written */
  spec: Record<string, unknown>;
}
