#!/usr/bin/env node
/**
 * What the specs of one task cost to cross the thread boundary: structured clone (v8.serialize /
 * deserialize, what postMessage does) of a task of 40 specs, as CheckSpec objects (the wire form
 * before) and as wire.ts tuples (encodeSpec, decoded with decodeSpec as the thread does).
 * Build first (`npm run build`).
 *
 *   node bench/checks/wire-clone.mjs [--rounds 3] [--iterations 10000]
 *
 * Prints one JSON line per round: µs per spec to serialize (main thread) and to deserialize and
 * decode (check thread), per form.
 */
import { parseArgs } from 'node:util';
import { deserialize, serialize } from 'node:v8';
import { decodeSpec, encodeSpec, toCheckSpec } from '../../dist/checks/wire.js';

const { values: a } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, iterations: { type: 'string', default: '10000' } },
});
const N = Number(a.iterations);
const PER_TASK = 40;
const specs = Array.from({ length: PER_TASK }, (_, i) => ({
  id: `bench-${i}`,
  url: `http://127.0.0.1:8080/e/${String(i).padStart(5, '0')}`,
  method: 'GET',
  headers: {},
  body: null,
  timeoutMs: 5000,
  connectTimeoutMs: 5000,
  followRedirects: true,
  maxRedirects: 5,
  tlsVerify: true,
  keepalive: false,
  maxBodyBytes: 1 << 20,
  successTests: [{ kind: 'json', key: 'status', op: '==', value: 'ok' }],
  responseJsonValues: [],
}));
const forms = {
  object: { encode: (s) => toCheckSpec(s), decode: (w) => w },
  tuple: { encode: (s) => encodeSpec(s), decode: (w) => decodeSpec(w) },
};

for (let r = 0; r < Number(a.rounds); r++) {
  const out = { round: r + 1 };
  for (const [name, f] of Object.entries(forms)) {
    let t0 = performance.now();
    let bytes;
    for (let i = 0; i < N; i++) bytes = serialize({ task: i, specs: specs.map(f.encode) });
    const ser = ((performance.now() - t0) * 1000) / (N * PER_TASK);
    t0 = performance.now();
    for (let i = 0; i < N; i++) for (const w of deserialize(bytes).specs) f.decode(w);
    const de = ((performance.now() - t0) * 1000) / (N * PER_TASK);
    out[name] = {
      serializeUs: +ser.toFixed(2),
      deserializeUs: +de.toFixed(2),
      bytesPerSpec: Math.round(bytes.length / PER_TASK),
    };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}
