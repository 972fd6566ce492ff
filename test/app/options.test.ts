import { describe, expect, it } from 'vitest';
import { clusterToolOptions } from '../../src/cli/cluster-flags.js';
import { envName, parseListen, parseRunOptions, type RunOptions } from '../../src/cli/options.js';
import { UsageError } from '../../src/model/errors.js';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseRunOptions(argv, env) as RunOptions;

describe('watcher run options', () => {
  it('--max-file-bytes takes bytes or a size, from the flag or WATCHER_MAX_FILE_BYTES', () => {
    expect(parse(['--max-file-bytes', '2000000']).maxFileBytes).toBe(2_000_000);
    expect(parse(['--max-file-bytes', '16MiB']).maxFileBytes).toBe(16 * 1024 * 1024);
    expect(parse([], { WATCHER_MAX_FILE_BYTES: '2MB' }).maxFileBytes).toBe(2_000_000);
    expect(() => parse(['--max-file-bytes', '0'])).toThrow(UsageError);
    expect(() => parse(['--max-file-bytes', 'big'])).toThrow(/--max-file-bytes must be a size/);
  });

  it('--cluster follows the one name rule of the etcd keys, in run and in the cluster tools', () => {
    expect(parse(['--cluster', 'prod:eu@1']).cluster).toBe('prod:eu@1');
    const tool = (cluster: string) => clusterToolOptions({ etcd: 'http://127.0.0.1:1', cluster });
    expect(tool('prod:eu@1').cluster).toBe('prod:eu@1');
    for (const bad of ['a/b', '', 'x'.repeat(129)]) {
      expect(() => parse(['--cluster', bad])).toThrow(UsageError);
      expect(() => tool(bad)).toThrow(/--cluster must be 1-128 of A-Z a-z 0-9/);
    }
  });

  it('has the spec defaults', () => {
    const o = parse([]);
    expect(o.endpointsDir).toBe('./endpoints.d');
    expect(o.maxFileBytes).toBe(8 * 1024 * 1024);
    expect(o.etcd).toBeNull();
    expect(o.cluster).toBe('default');
    expect(o.listen).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(o.leaseTtl).toBe(5);
    expect(o.capacity).toBeNull();
    expect(o.onPartition).toBe('continue');
    expect(o.logLevel).toBe('info');
    expect(o.threads).toBeGreaterThanOrEqual(1);
  });

  it('reads WATCHER_* variables and lets flags win', () => {
    expect(envName('lease-ttl')).toBe('WATCHER_LEASE_TTL');
    const env = { WATCHER_LEASE_TTL: '7', WATCHER_ETCD: 'http://a:1,http://b:2', WATCHER_CAPACITY: '10' };
    const fromEnv = parse([], env);
    expect(fromEnv.leaseTtl).toBe(7);
    expect(fromEnv.etcd).toEqual(['http://a:1', 'http://b:2']);
    expect(fromEnv.capacity).toBe(10);
    expect(parse(['--lease-ttl', '3'], env).leaseTtl).toBe(3);
  });

  it.each([
    [['--lease-ttl', '1'], /at least 2/],
    [['--lease-ttl', 'soon'], /whole number/],
    [['--on-partition', 'panic'], /continue' or 'pause/],
    [['--config-source', 'git'], /--config-source must be 'folder' or 'etcd'/],
    [['--config-source', 'etcd'], /--config-source etcd needs --etcd/],
    [['--etcd', 'etcd:2379'], /http:\/\/ or https:\/\//],
    [['--etcd-user', 'root'], /go together/],
    [['--listen', 'nowhere'], /HOST:PORT/],
    [['--bogus'], /Unknown option/],
    [['extra'], /unexpected argument/],
  ])('rejects %j with a usage error', (argv, message) => {
    expect(() => parse(argv)).toThrow(UsageError);
    expect(() => parse(argv)).toThrow(message);
  });

  it('--advertise names the address peers reach; a wildcard is refused', () => {
    expect(parse([]).advertise).toBeNull();
    expect(parse(['--listen', '0.0.0.0:9464', '--advertise', '10.0.0.7:9464']).advertise).toBe(
      '10.0.0.7:9464',
    );
    expect(parse([], { WATCHER_ADVERTISE: 'w1.internal:9464' }).advertise).toBe('w1.internal:9464');
    expect(() => parse(['--advertise', '0.0.0.0:9464'])).toThrow(/peers can reach/);
    expect(() => parse(['--advertise', 'nohost'])).toThrow(/HOST:PORT/);
  });

  it('parses listen addresses', () => {
    expect(parseListen('0.0.0.0:80')).toEqual({ host: '0.0.0.0', port: 80 });
    expect(parseListen('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(parseListen(':9464')).toEqual({ host: '0.0.0.0', port: 9464 });
  });
});
