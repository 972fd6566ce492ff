import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Endpoint, Schedule, SelfTargets } from '../model/endpoint.js';
import { CFG } from './codes.js';
import { sha256 } from './hash.js';
import { DEFAULT_MAX_FILE_BYTES, type ParsedFile, type ParseOptions, parseFile } from './parse-file.js';
import { FILE_START, type Position, problem, sortProblems, WHOLE_FILE } from './problems.js';
import type { ConfigProblem, ConfigSnapshot, FileStatus, RawEndpoint, RawSelf } from './types.js';

export type LoadOptions = ParseOptions;

/** One file as read and parsed; kept by watchDir to skip re-parsing unchanged files. */
export interface FileEntry {
  file: string;
  /** sha256 of the bytes read ('' when unreadable) */
  checksum: string;
  parsed: ParsedFile;
}

const CONFIG_FILE = /\.ya?ml$/i;
const READ_CONCURRENCY = 32;

/** `*.yml` / `*.yaml` directly in dir (not hidden, following symlinks), sorted by name. */
export async function listConfigFiles(dir: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => CONFIG_FILE.test(n) && !n.startsWith('.')).sort();
  const files: string[] = [];
  for (const n of names) {
    const full = join(dir, n);
    try {
      if ((await stat(full)).isFile()) files.push(full);
    } catch {
      // vanished or dangling symlink: not part of the folder
    }
  }
  return files;
}

function failed(file: string, code: string, message: string, pos: Position = WHOLE_FILE): FileEntry {
  const p = problem(file, pos, code, message);
  return {
    file,
    checksum: '',
    parsed: { endpoints: [], self: null, rawSelf: null, raw: [], schedules: [], problems: [p], secrets: [] },
  };
}

/** Read at most limit+1 bytes: a huge file never gets loaded into memory. */
async function readBounded(file: string, limit: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(64 * 1024, limit + 1 - total));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      total += bytesRead;
      if (total > limit) break;
    }
    return Buffer.concat(chunks, total);
  } finally {
    await fh.close();
  }
}

/** Read and parse one file; reuses `prev.parsed` when the bytes did not change. */
export async function readConfigFile(
  file: string,
  opts: LoadOptions = {},
  prev?: FileEntry,
): Promise<FileEntry> {
  const limit = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  let bytes: Buffer;
  try {
    bytes = await readBounded(file, limit);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    return failed(file, CFG.READ, `cannot read file (${code})`);
  }
  const checksum = sha256(bytes);
  if (prev && prev.checksum === checksum && prev.file === file) return prev;
  if (bytes.length > limit) {
    return {
      ...failed(
        file,
        CFG.FILE_TOO_LARGE,
        `file is larger than the limit of ${limit} bytes (raise it with --max-file-bytes)`,
        FILE_START,
      ),
      checksum,
    };
  }
  return { file, checksum, parsed: parseFile(bytes.toString('utf8'), file, opts) };
}

async function mapLimited<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export async function readConfigFiles(
  files: string[],
  opts: LoadOptions = {},
  prev?: ReadonlyMap<string, FileEntry>,
): Promise<FileEntry[]> {
  return mapLimited(files, READ_CONCURRENCY, (f) => readConfigFile(f, opts, prev?.get(f)));
}

/**
 * Files -> snapshot. Endpoints come from files without problems. An endpoint name defined in more
 * than one such file is reported in each of them and loaded from none; their other endpoints stay.
 */
export function assemble(entries: FileEntry[], extra: ConfigProblem[] = []): ConfigSnapshot {
  const owners = new Map<string, { entry: FileEntry; raw: RawEndpoint }[]>();
  for (const entry of entries) {
    for (const raw of entry.parsed.raw) {
      const list = owners.get(raw.name);
      if (list) list.push({ entry, raw });
      else owners.set(raw.name, [{ entry, raw }]);
    }
  }
  const problems: ConfigProblem[] = [...extra];
  const dupProblemFiles = new Set<string>();
  for (const [name, list] of owners) {
    if (list.length < 2) continue;
    for (const { entry, raw } of list) {
      const others = list.filter((o) => o.raw !== raw).map((o) => `${o.entry.file}:${o.raw.line}`);
      problems.push(
        problem(
          entry.file,
          { line: raw.line, col: 1 },
          CFG.DUPLICATE_ENDPOINT,
          `endpoint \`${name}\` is also defined in ${others.join(', ')}; neither definition is loaded`,
        ),
      );
      dupProblemFiles.add(entry.file);
    }
  }
  const endpoints: Endpoint[] = [];
  const rawByName = new Map<string, RawEndpoint>();
  const schedules = new Map<string, Schedule>();
  let lean = false;
  const self: SelfTargets[] = [];
  const rawSelf: RawSelf[] = [];
  const files: FileStatus[] = [];
  const secrets = new Set<string>();
  for (const entry of entries) {
    const { parsed } = entry;
    problems.push(...parsed.problems);
    for (const s of parsed.secrets) secrets.add(s);
    let count = 0;
    parsed.raw.forEach((r, i) => {
      if ((owners.get(r.name)?.length ?? 0) > 1) return;
      rawByName.set(r.name, r);
      // parsed with keepEndpoints: false: the schedule is all that is left of the normalised endpoint
      const e = parsed.endpoints[i];
      if (e) endpoints.push(e);
      else {
        lean = true;
        schedules.set(r.name, parsed.schedules[i]!);
      }
      count++;
    });
    if (parsed.self) self.push(parsed.self);
    if (parsed.rawSelf) rawSelf.push(parsed.rawSelf);
    files.push({
      file: entry.file,
      ok: parsed.problems.length === 0 && !dupProblemFiles.has(entry.file),
      endpoints: count,
      checksum: entry.checksum,
    });
  }
  return {
    endpoints,
    self,
    problems: sortProblems(problems),
    files,
    raw: rawByName,
    rawSelf,
    secrets,
    ...(lean ? { schedules } : {}),
  };
}

/** Load every `*.yml`/`*.yaml` of a folder. A missing folder gives a snapshot with a CFG_READ problem. */
export async function loadDir(dir: string, opts: LoadOptions = {}): Promise<ConfigSnapshot> {
  let files: string[];
  try {
    files = await listConfigFiles(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    return assemble([], [problem(dir, WHOLE_FILE, CFG.READ, `cannot read folder (${code})`)]);
  }
  return assemble(await readConfigFiles(files, opts));
}

/**
 * Load files and folders (as `watcher validate` takes them). A folder contributes its
 * `*.yml`/`*.yaml`; a file is loaded whatever its name. Each file is read once.
 */
export async function loadFiles(paths: string[], opts: LoadOptions = {}): Promise<ConfigSnapshot> {
  const files: string[] = [];
  const extra: ConfigProblem[] = [];
  for (const p of paths) {
    try {
      const st = await stat(p);
      if (st.isDirectory()) files.push(...(await listConfigFiles(p)));
      else files.push(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      extra.push(problem(p, WHOLE_FILE, CFG.READ, `cannot read (${code})`));
    }
  }
  const unique = [...new Set(files)];
  return assemble(await readConfigFiles(unique, opts), extra);
}
