#!/usr/bin/env node
// Container health probe: GET /healthz on the address the worker listens on (WATCHER_LISTEN,
// default 127.0.0.1:9464; a wildcard host 0.0.0.0 / :: is probed on loopback). Exit 0 when the
// answer is 200 within 2 s, 1 otherwise. Used by docker/Dockerfile's HEALTHCHECK.
const listen = process.env.WATCHER_LISTEN || '127.0.0.1:9464';
const m = /^(.*):(\d+)$/.exec(listen);
if (!m) {
  process.stderr.write(`healthcheck: WATCHER_LISTEN must be HOST:PORT, got '${listen}'\n`);
  process.exit(1);
}
let host = m[1].replace(/^\[(.*)\]$/, '$1');
if (host === '' || host === '0.0.0.0') host = '127.0.0.1';
else if (host === '::') host = '::1';
const url = `http://${host.includes(':') ? `[${host}]` : host}:${m[2]}/healthz`;
fetch(url, { signal: AbortSignal.timeout(2000) }).then(
  (r) => process.exit(r.status === 200 ? 0 : 1),
  () => process.exit(1),
);
