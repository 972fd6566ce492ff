/**
 * gRPC keepalive against a real etcd (issue 17): a member connection left without calls (what a
 * worker keeps to the members it is not using, e.g. after a partition made it try them all) must
 * not be pinged, because etcd answers pings on a connection without streams with GOAWAY
 * "too_many_pings" and grpc-js then writes its plain-text "excess pings" line. gRPC's own
 * diagnostics must reach the log as JSON.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEtcd } from '../../src/cluster/etcd/client.js';
import { createLogger, createSecretRegistry, routeGrpcLogs } from '../../src/logging.js';
import { type EtcdCluster, startEtcdCluster } from '../support/etcd.js';
import { waitFor } from '../support/wait.js';

let etcd: EtcdCluster;
const lines: string[] = [];
const log = createLogger({
  level: 'debug',
  secrets: createSecretRegistry(),
  destination: new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  }),
});

beforeAll(async () => {
  etcd = await startEtcdCluster({ members: 1 });
  await routeGrpcLogs(log);
}, 30_000);

afterAll(async () => {
  await etcd?.close();
});

describe('etcd client keepalive', () => {
  it('an idle member connection is not pinged into a GOAWAY (no "excess pings" in 4+ intervals)', async () => {
    const rpc = await connectEtcd({ endpoints: etcd.clientUrls }, '/watcher-keepalive-test');
    try {
      // grpc-js pings every 5 s; etcd sends GOAWAY on the 4th ping without streams (~20 s)
      const until = Date.now() + 23_000;
      await waitFor(() => Date.now() >= until, { timeoutMs: 30_000, intervalMs: 500, message: 'idle time' });
      const text = lines.join('\n');
      expect(text).not.toMatch(/excess pings|too_many_pings/);
      // the connection is still usable
      await rpc.get('/watcher-keepalive-test');
    } finally {
      rpc.close();
    }
  }, 40_000);

  it("grpc-js's diagnostics reach the log as JSON lines", async () => {
    const grpc = await import('@grpc/grpc-js');
    const before = lines.length;
    // grpc-js's own logging entry point (what its subchannels call)
    const { log: grpcLog } = await import('@grpc/grpc-js/build/src/logging.js');
    grpcLog(grpc.logVerbosity.ERROR, 'Connection to dns:x rejected by server because of excess pings');
    const added = lines
      .slice(before)
      .map((l) => JSON.parse(l) as { level: string; module: string; msg: string });
    expect(added).toEqual([expect.objectContaining({ level: 'warn', module: 'grpc' })]);
    expect(added[0]!.msg).toContain('excess pings');
  });
});
