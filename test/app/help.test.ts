/**
 * `--help` texts are true (issue 17): every documented default is the value the command uses
 * when the flag is absent, and `status`/`apply` say that `--etcd` is required, as they enforce.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRunOptions, RUN_FLAGS, type RunOptions } from '../../src/cli/options.js';

const ROOT = join(import.meta.dirname, '../..');
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [join(ROOT, 'dist/cli/main.js'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '' },
    encoding: 'utf8',
    timeout: 20_000,
  });

describe('--help texts', () => {
  it('run: each shown [default] is what an absent flag gives', () => {
    const help = cli('run', '--help');
    expect(help.status).toBe(0);
    const o = parseRunOptions([], {}) as RunOptions;
    const used: Record<string, unknown> = {
      'endpoints-dir': o.endpointsDir,
      'max-file-bytes': o.maxFileBytes === 8 * 1024 * 1024 ? '8MiB' : o.maxFileBytes,
      cluster: o.cluster,
      listen: `${o.listen.host}:${o.listen.port}`,
      'lease-ttl': String(o.leaseTtl),
      'scaling-alert-after': String(o.scalingAlertAfter),
      'on-partition': o.onPartition,
      'config-source': o.configSource,
      'log-level': o.logLevel,
    };
    for (const [name, spec] of Object.entries(RUN_FLAGS)) {
      const line = help.stdout.split('\n').find((l) => l.startsWith(`  --${name} `));
      expect(line, name).toBeDefined();
      expect(line, name).toContain(`(env WATCHER_${name.toUpperCase().replace(/-/g, '_')})`);
      if (spec.default !== undefined) {
        expect(line, name).toContain(`[${spec.default}]`);
        expect(used[name], name).toBe(spec.default);
      }
    }
    expect(o.etcd).toBeNull(); // "absent = standalone"
    expect(help.stdout).toMatch(/--etcd VALUE .*absent = standalone/);
  });

  it.each(['status', 'apply'])('%s: --etcd is documented as required and is', (cmd) => {
    const help = cli(cmd, '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--etcd VALUE .*\(required\)/);
    expect(help.stdout).not.toContain('standalone');
    const args = cmd === 'apply' ? [cmd, 'endpoints.d'] : [cmd];
    const r = cli(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--etcd URLS is required');
  });

  it('every help line is aligned, --help included', () => {
    for (const cmd of ['run', 'status', 'apply']) {
      const lines = cli(cmd, '--help')
        .stdout.split('\n')
        .filter((l) => l.startsWith('  --'));
      const help = lines.find((l) => l.startsWith('  --help'))!;
      expect(help.indexOf('this text'), cmd).toBe(29);
    }
  });
});
