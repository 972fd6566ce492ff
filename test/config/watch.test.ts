import { mkdirSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type ConfigSnapshot, type ConfigWatcher, watchDir } from '../../src/config/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'watcher-config-watch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const watchers: ConfigWatcher[] = [];
afterEach(async () => {
  await Promise.all(watchers.splice(0).map((w) => w.close()));
});

/** Resolve with the first snapshot emitted after the call that satisfies pred, or fail at the deadline. */
function next(
  w: ConfigWatcher,
  pred: (s: ConfigSnapshot) => boolean,
  deadlineMs: number,
): Promise<ConfigSnapshot> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching snapshot within ${deadlineMs} ms`));
    }, deadlineMs);
    const off = w.onSnapshot((s) => {
      if (!pred(s)) return;
      clearTimeout(timer);
      off();
      resolve(s);
    });
  });
}

const names = (s: ConfigSnapshot) => s.endpoints.map((e) => e.name).sort();
const ep = (host: string, every = '5s') => `${host}:\n  interval: ${every}\n`;

async function timed<T>(label: string, p: Promise<T>, latencies: string[]): Promise<T> {
  const t0 = performance.now();
  const v = await p;
  latencies.push(`${label} ${(performance.now() - t0).toFixed(0)} ms`);
  return v;
}

describe('watchDir', () => {
  it('emits a new snapshot on add, change, remove, break and fix, within a second', async () => {
    const dir = mkdtempSync(join(tmp, 'w-'));
    writeFileSync(join(dir, 'a.yml'), ep('a.example.com'));
    const w = watchDir(dir, { env: {} });
    watchers.push(w);
    const first = await w.ready;
    expect(names(first)).toEqual(['a.example.com']);
    expect(w.current()).toBe(first);
    const lat: string[] = [];
    const DEADLINE = 1000;

    // add
    let p = next(w, (s) => names(s).includes('b.example.com'), DEADLINE);
    writeFileSync(join(dir, 'b.yml'), ep('b.example.com'));
    let s = await timed('add', p, lat);
    expect(names(s)).toEqual(['a.example.com', 'b.example.com']);
    const aBefore = s.endpoints.find((e) => e.name === 'a.example.com')!;

    // change
    p = next(
      w,
      (x) => x.endpoints.some((e) => e.name === 'b.example.com' && e.schedule.kind === 'cron'),
      DEADLINE,
    );
    writeFileSync(join(dir, 'b.yml'), 'b.example.com:\n  cron_schedule: "*/5 * * * * *"\n');
    s = await timed('change', p, lat);
    // the unchanged file was not parsed again: same objects
    expect(s.endpoints.find((e) => e.name === 'a.example.com')).toBe(aBefore);

    // break: the bad file's endpoints go, its problem shows, the good file stays
    p = next(w, (x) => x.problems.length > 0, DEADLINE);
    writeFileSync(join(dir, 'b.yml'), 'b.example.com:\n  cron_schedule: * * * * *\n');
    s = await timed('break', p, lat);
    expect(names(s)).toEqual(['a.example.com']);
    expect(s.problems.map((x) => [x.file, x.code])).toEqual([
      [join(dir, 'b.yml'), 'CFG_YAML_ALIAS_UNQUOTED_CRON'],
    ]);

    // fix
    p = next(w, (x) => x.problems.length === 0, DEADLINE);
    writeFileSync(join(dir, 'b.yml'), 'b.example.com:\n  cron_schedule: "* * * * *"\n');
    s = await timed('fix', p, lat);
    expect(names(s)).toEqual(['a.example.com', 'b.example.com']);

    // remove
    p = next(w, (x) => !names(x).includes('a.example.com'), DEADLINE);
    rmSync(join(dir, 'a.yml'));
    s = await timed('remove', p, lat);
    expect(names(s)).toEqual(['b.example.com']);
    expect(s.files.map((f) => f.file)).toEqual([join(dir, 'b.yml')]);
    console.log(`watchDir latencies: ${lat.join(', ')}`);
  });

  it('does not emit when nothing changed (touch), and picks up an atomic rename', async () => {
    const dir = mkdtempSync(join(tmp, 'w-'));
    writeFileSync(join(dir, 'a.yml'), ep('a.example.com'));
    const reloads: boolean[] = [];
    let reloaded: (() => void) | null = null;
    const w = watchDir(dir, {
      env: {},
      debounceMs: 50,
      onReload: (emitted) => {
        reloads.push(emitted);
        reloaded?.();
      },
    });
    watchers.push(w);
    await w.ready;
    const seen: ConfigSnapshot[] = [];
    w.onSnapshot((s) => seen.push(s));
    // same bytes, new mtime: the folder is reloaded but no snapshot is emitted
    const touched = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no reload after touch')), 3000);
      reloaded = () => {
        clearTimeout(t);
        resolve();
      };
    });
    const later = new Date(Date.now() + 5000);
    utimesSync(join(dir, 'a.yml'), later, later);
    await touched;
    reloaded = null;
    expect(reloads.at(-1)).toBe(false);
    expect(seen).toHaveLength(0);
    // a real change, written to a temp name and renamed into place (editors, ConfigMaps)
    const p = next(w, (s) => names(s).includes('c.example.com'), 2000);
    writeFileSync(join(dir, '.c.yml.tmp'), ep('c.example.com'));
    renameSync(join(dir, '.c.yml.tmp'), join(dir, 'c.yml'));
    await p;
    expect(seen).toHaveLength(1);
    expect(names(seen[0]!)).toEqual(['a.example.com', 'c.example.com']);
  });

  it('the periodic rescan alone catches changes (fs.watch can miss events)', async () => {
    const dir = mkdtempSync(join(tmp, 'w-'));
    writeFileSync(join(dir, 'a.yml'), ep('a.example.com'));
    const w = watchDir(dir, { env: {}, useFsWatch: false, rescanMs: 100, debounceMs: 50 });
    watchers.push(w);
    await w.ready;
    const p = next(w, (s) => names(s).includes('b.example.com'), 3000);
    writeFileSync(join(dir, 'b.yml'), ep('b.example.com'));
    expect(names(await p)).toEqual(['a.example.com', 'b.example.com']);
    const p2 = next(
      w,
      (s) => s.endpoints.some((e) => e.schedule.kind === 'interval' && e.schedule.everyMs === 7000),
      3000,
    );
    writeFileSync(join(dir, 'a.yml'), ep('a.example.com', '7s'));
    await p2;
  });

  it('the async iterator yields the current snapshot, then new ones, and ends on close', async () => {
    const dir = mkdtempSync(join(tmp, 'w-'));
    writeFileSync(join(dir, 'a.yml'), ep('a.example.com'));
    const w = watchDir(dir, { env: {}, debounceMs: 50 });
    const it = w.snapshots[Symbol.asyncIterator]();
    const r1 = await it.next();
    expect(r1.done).toBe(false);
    expect(names(r1.value as ConfigSnapshot)).toEqual(['a.example.com']);
    const pending = it.next();
    writeFileSync(join(dir, 'b.yml'), ep('b.example.com'));
    const r2 = await pending;
    expect(names(r2.value as ConfigSnapshot)).toEqual(['a.example.com', 'b.example.com']);
    const after = it.next();
    await w.close();
    expect((await after).done).toBe(true);
  });

  it('a folder that appears later is picked up', async () => {
    const dir = join(tmp, 'later');
    const w = watchDir(dir, { env: {}, rescanMs: 100, debounceMs: 50 });
    watchers.push(w);
    const first = await w.ready;
    expect(first.problems.map((p) => p.code)).toEqual(['CFG_READ']);
    const p = next(w, (s) => s.endpoints.length === 1, 3000);
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.yml'), ep('a.example.com'));
    const s = await p;
    expect(s.problems).toEqual([]);
  });

  it('a folder that cannot be read keeps its last good endpoints, reports it, and reads again when it can', async () => {
    const dir = mkdtempSync(join(tmp, 'gone-'));
    writeFileSync(join(dir, 'a.yml'), ep('a.example.com'));
    const w = watchDir(dir, { env: {}, rescanMs: 100 });
    watchers.push(w);
    expect(names(await w.ready)).toEqual(['a.example.com']);
    let p = next(w, (x) => x.problems.length > 0, 3000);
    renameSync(dir, `${dir}.away`);
    const broken = await p;
    expect(broken.problems.map((x) => [x.file, x.code, x.message])).toEqual([
      [dir, 'CFG_READ', 'cannot read folder (ENOENT)'],
    ]);
    expect(names(broken)).toEqual(['a.example.com']);
    p = next(w, (x) => x.problems.length === 0, 3000);
    renameSync(`${dir}.away`, dir);
    const fixed = await p;
    expect(names(fixed)).toEqual(['a.example.com']);
  });
});
