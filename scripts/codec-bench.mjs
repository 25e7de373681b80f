/**
 * Micro-benchmark of the envelope codec on the bench's ~130-byte flag update, in one
 * process: encode (a whole UPDATE frame, as a push makes it), decode (msgpack only) and
 * decode + validate (what a receiver does). Run by hand after a build:
 *
 *   node scripts/codec-bench.mjs [--compare OTHER_DIST] [--ops N] [--rounds R]
 *
 * `--compare` takes another build's dist/ (e.g. of an older commit) with the same
 * src/envelope/codec.js exports; rounds alternate between the builds, so both see the
 * same machine speed. msgpackr and @msgpack/msgpack on their own are measured beside them.
 * On a busy machine prefer many short rounds (`--ops 200000 --rounds 25`): the best round
 * is the one least disturbed by other processes.
 */
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const { values: o } = parseArgs({ options: { compare: { type: 'string' }, ops: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '5' } } });
const OPS = Number(o.ops);
const ROUNDS = Number(o.rounds);
const here = fileURLToPath(new URL('../dist/', import.meta.url));

async function build(dist, label) {
  const codec = await import(pathToFileURL(path.join(dist, 'src/envelope/codec.js')).href);
  // A receiver decodes a fresh view of each frame (the frame decoder's subarray), not the same Buffer again.
  return { label, encode: (env) => codec.encodeCheckedEnvelope(env, 3), decode: (b) => codec.unpackValue(b.subarray(0)), decodeChecked: (b) => codec.decodeEnvelope(b.subarray(0)) };
}

const { benchUpdate } = await import(pathToFileURL(path.join(here, 'src/bench/spec.js')).href);
const { newOrigin } = await import(pathToFileURL(path.join(here, 'src/pipe/origin.js')).href);
const origin = newOrigin();
const envs = Array.from({ length: 1024 }, (_, i) => ({ v: 1, origin, seq: i + 1, ts: Date.now(), update: benchUpdate(i) }));

const subjects = [await build(here, 'this build')];
if (o.compare) subjects.push(await build(path.resolve(o.compare), `--compare ${o.compare}`));
const { Packr, Unpackr } = await import('msgpackr/pack');
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
subjects.push({ label: 'msgpackr alone', encode: (env) => packr.pack(env), decode: (b) => unpackr.unpack(b.subarray(0)) });
try {
  const ref = await import('@msgpack/msgpack');
  subjects.push({ label: '@msgpack/msgpack alone', encode: (env) => ref.encode(env), decode: (b) => ref.decode(b.subarray(0)) });
} catch {
  // a production install has no dev dependencies
}

function time(f, inputs) {
  let sink = 0;
  const t = process.hrtime.bigint();
  for (let i = 0; i < OPS; i++) sink += f(inputs[i & 1023]) ? 1 : 0;
  const ns = Number(process.hrtime.bigint() - t);
  if (sink !== OPS) throw new Error('lost results');
  return OPS / (ns / 1e9) / 1e6;
}

const rows = subjects.map((s) => {
  const frames = envs.map((e) => Buffer.from(s.encode(e)));
  const bodies = frames.map((f) => (s.label.endsWith('alone') ? f : f.subarray(5)));
  return { s, bodies, size: bodies[0].length, encode: [], decode: [], decodeChecked: [] };
});
for (let r = 0; r < ROUNDS + 1; r++) {
  for (const row of rows) {
    const e = time(row.s.encode, envs);
    const d = time(row.s.decode, row.bodies);
    const c = row.s.decodeChecked ? time(row.s.decodeChecked, row.bodies) : NaN;
    if (r === 0) continue; // warm-up
    row.encode.push(e);
    row.decode.push(d);
    row.decodeChecked.push(c);
  }
}

const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs) => (Number.isNaN(xs[0]) ? '—' : `${med(xs).toFixed(2)} (best ${Math.max(...xs).toFixed(2)})`);
console.log(`node ${process.version}, ${OPS.toLocaleString('en')} ops × ${ROUNDS} rounds, M ops/s: median of the rounds (best round)`);
console.log('| codec | envelope bytes | encode | decode | decode + validate |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const row of rows) console.log(`| ${row.s.label} | ${row.size} | ${fmt(row.encode)} | ${fmt(row.decode)} | ${fmt(row.decodeChecked)} |`);
