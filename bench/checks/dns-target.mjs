#!/usr/bin/env node
/**
 * DNS target for bench/checks/probes.mjs: answers every query on 127.0.0.1:PORT (UDP) with
 * `A 203.0.113.7` (TTL 60) for the name asked, NOERROR, no EDNS. One process, one thread.
 */
import dgram from 'node:dgram';

const port = Number(process.argv[2]);
const sock = dgram.createSocket('udp4');
const answer = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 7]);
sock.on('message', (msg, rinfo) => {
  if (msg.length < 17) return;
  let off = 12;
  while (off < msg.length && msg[off] !== 0) off += msg[off] + 1;
  const qEnd = off + 5;
  const head = Buffer.from(msg.subarray(0, 12));
  head.writeUInt16BE(0x8180, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(1, 6);
  head.writeUInt16BE(0, 8);
  head.writeUInt16BE(0, 10);
  sock.send(Buffer.concat([head, msg.subarray(12, qEnd), answer]), rinfo.port, rinfo.address);
});
sock.bind(port, '127.0.0.1', () => console.log('ready'));
