#!/usr/bin/env node
/** Fallback bench target when nginx is not installed: `node node-target.mjs PORT`. Serves /ok. */
import http from 'node:http';

const body = Buffer.from('{"status":"ok","db":{"latency_ms":12}}');
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
