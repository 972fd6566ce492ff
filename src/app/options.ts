/** The options of a worker (`watcher run` parses its flags and environment into these; SPEC.md "Command line"). */
export interface AppOptions {
  endpointsDir: string;
  /** endpoint files above this many bytes are refused (CFG_FILE_TOO_LARGE) */
  maxFileBytes: number;
  etcd: string[] | null;
  etcdCa: string | null;
  etcdCert: string | null;
  etcdKey: string | null;
  etcdUser: string | null;
  etcdPassword: string | null;
  cluster: string;
  id: string;
  listen: { host: string; port: number };
  /** HOST:PORT peers reach this worker's status server at (null: the --listen address) */
  advertise: string | null;
  httpToken: string | null;
  threads: number;
  leaseTtl: number;
  capacity: number | null;
  /** seconds jobs may wait in the cluster's queue before the admin raises "scaling limit hit" */
  scalingAlertAfter: number;
  onPartition: 'continue' | 'pause';
  /** folder: the admin reconciles its --endpoints-dir; etcd: only `watcher apply` changes the desired state */
  configSource: 'folder' | 'etcd';
  resultsFile: string | null;
  logLevel: string;
}

/** `WATCHER_COALESCE_MS` (benchmarks only): a whole number of ms, else the default of 20. */
export function coalesceMsFrom(v: string | undefined): number {
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : 20;
}
