#!/usr/bin/env node
/**
 * Fallback bench target when nginx is not installed: `node target.mjs [PORT]`.
 * Answers every path with a small JSON body; keep-alive honoured; prints {"port": N} when ready.
 */
import http from 'node:http';

const body = Buffer.from('{"status":"ok"}');
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.maxRequestsPerSocket = 0;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', 4096, () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
process.on('SIGTERM', () => process.exit(0));
