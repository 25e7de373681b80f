import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { decode as refDecode, encode as refEncode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { decodeEnvelope, encodeCheckedEnvelope, encodeEnvelope, packValue, unpackValue } from '../../src/envelope/codec.js';
import type { Envelope } from '../../src/envelope/envelope.js';
import { PipeError } from '../../src/errors.js';
import { decodeHello, encodeHello, MAX_CONTROL_BYTES } from '../../src/hub/hub-protocol.js';
import { validateUpdate } from '../../src/update/update.js';

// The values protocol records carry: no undefined (msgpackr writes an extension for it), no -0.
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -(2 ** 31), max: 2 ** 32 }),
    fc.maxSafeInteger(),
    fc.maxSafeNat(),
    fc.double({ noNaN: true }).filter((d) => !Object.is(d, -0)),
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.string({ maxLength: 40 }),
  ),
  node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 20 }), fc.dictionary(fc.string({ maxLength: 10 }).filter((k) => k !== '__proto__'), tie('node'), { maxKeys: 10, noNullPrototype: true })),
})).node;

const badFrame = (e: unknown): boolean => e instanceof PipeError && e.code === 'BAD_FRAME';
const typed = (e: unknown): boolean => e instanceof PipeError && (e.code === 'BAD_FRAME' || e.code === 'BAD_INPUT');

async function vectorEnvelopes(): Promise<{ env: Envelope; out: unknown; line: string }[]> {
  const found: { env: Envelope; out: unknown; line: string }[] = [];
  for (const file of ['update-vectors.jsonl', 'update-vectors-extra.jsonl']) {
    const text = await readFile(new URL(`../../../test/fixtures/${file}`, import.meta.url), 'utf8');
    for (const line of text.split('\n').filter(Boolean)) {
      const c = JSON.parse(line) as { in: unknown; out?: unknown };
      if (c.out === undefined) continue;
      found.push({ env: { v: 1, origin: 'o1', seq: 7, ts: 1_700_000_000_000, update: validateUpdate(c.in) }, out: c.out, line });
    }
  }
  assert.ok(found.length > 10, `${found.length} valid vectors`);
  return found;
}

test('msgpack: what we write, another msgpack library (@msgpack/msgpack) reads, and the other way round', () => {
  fc.assert(
    fc.property(value, (v) => {
      assert.deepEqual(refDecode(packValue(v)), v);
      assert.deepEqual(unpackValue(Buffer.from(refEncode(v))), v);
      assert.deepEqual(unpackValue(packValue(v)), v);
    }),
    { numRuns: 500 },
  );
});

test('envelopes: every update vector crosses between msgpackr and @msgpack/msgpack both ways, frames included', async () => {
  for (const { env, out, line } of await vectorEnvelopes()) {
    const body = encodeCheckedEnvelope(env);
    assert.deepEqual(refDecode(body), env, line);
    assert.deepEqual(decodeEnvelope(refEncode(env)), env, line); // ts goes as uint64 there: still a number here
    assert.deepEqual(decodeEnvelope(body).update, out, line);
    // (compare bytes: msgpackr caches a DataView on the Buffers it reads)
    assert.ok(encodeEnvelope(env).equals(body), line);
    const frame = encodeCheckedEnvelope(env, 3);
    assert.equal(frame.readUInt32BE(0), frame.length - 4);
    assert.equal(frame[4], 3);
    assert.ok(frame.subarray(5).equals(body), line);
  }
});

test('encoded frames stay intact while later envelopes are packed (they wait in queues and replay rings)', () => {
  const env: Envelope = { v: 1, origin: 'o1', seq: 1, ts: 1, update: validateUpdate({ type: 'resync', user: 'alice' }) };
  const kept = Array.from({ length: 200 }, (_, i) => encodeCheckedEnvelope({ ...env, seq: i + 1 }, 3));
  const copies = kept.map((f) => Buffer.from(f));
  for (let i = 0; i < 5_000; i++) encodeCheckedEnvelope({ ...env, seq: 1_000 + i, update: validateUpdate({ type: 'resync', user: 'u'.repeat(i % 300 + 1) }) }, 3);
  kept.forEach((f, i) => assert.ok(f.equals(copies[i]!), `frame ${i}`));
  assert.equal(decodeEnvelope(kept[199]!.subarray(5)).seq, 200);
});

test('encodeEnvelope checks what it is given (and so never writes msgpackr extensions)', () => {
  assert.throws(() => encodeEnvelope({ v: 1, origin: 'o', seq: 0, ts: 1, update: { type: 'resync', user: 'a' } }), /seq/);
  const withUndefined = { v: 1, origin: 'o', seq: 1, ts: 1, update: { type: 'resync', user: 'a', mailbox: undefined } } as unknown as Envelope;
  assert.deepEqual(refDecode(encodeEnvelope(withUndefined)), { v: 1, origin: 'o', seq: 1, ts: 1, update: { type: 'resync', user: 'a' } });
});

test('msgpack: every truncation of a valid message is BAD_FRAME, never a crash', () => {
  const whole = packValue({ v: 1, origin: 'o', seq: 70_000, ts: Date.now(), update: { type: 'flags', flags: ['\\Seen', 'ü'], big: 'y'.repeat(300) } });
  for (let cut = 0; cut < whole.length; cut++) assert.throws(() => unpackValue(whole.subarray(0, cut)), badFrame, `cut at ${cut}`);
  assert.throws(() => unpackValue(Buffer.concat([whole, Buffer.from([0])])), badFrame, 'extra bytes');
});

test('msgpack: malformed input is BAD_FRAME; a 1M-deep nesting is too (msgpackr overflows the stack, we catch it)', () => {
  const cases: [string, number[]][] = [
    ['unknown extension', [0xc7, 0x01, 0x05, 0x00]],
    ['array claiming 4G items', [0xdd, 0xff, 0xff, 0xff, 0xff]],
    ['map claiming 65k entries', [0xde, 0xff, 0xff]],
    ['string claiming 4 GiB', [0xdb, 0xff, 0xff, 0xff, 0xff]],
    ['bin claiming 4 GiB', [0xc6, 0xff, 0xff, 0xff, 0xff]],
    ['empty', []],
  ];
  for (const [name, bytes] of cases) assert.throws(() => unpackValue(Buffer.from(bytes)), badFrame, name);
  const deep = Buffer.alloc(1_000_001, 0x91);
  deep[1_000_000] = 0x01;
  assert.throws(() => unpackValue(deep), badFrame, '1M nested arrays');
  assert.throws(() => decodeEnvelope(deep), badFrame, '1M nested arrays, as an envelope');
  assert.equal(decodeEnvelope(encodeCheckedEnvelope({ v: 1, origin: 'o', seq: 1, ts: 1, update: { type: 'resync', user: 'a' } })).seq, 1, 'the decoder still works after that');
});

test('envelopes: msgpack extensions and odd keys in any field are refused with a typed error', () => {
  const good = { v: 1, origin: 'o1', seq: 5, ts: 1_700_000_000_000, update: { type: 'flags', user: 'alice', mailbox: 'INBOX', uid: 3, flags: ['\\Seen'] } };
  const everything = new Packr({ structuredClone: true, moreTypes: true, useRecords: false, useBigIntExtension: true });
  const exotic: [string, unknown][] = [
    ['timestamp (Date)', new Date(0)],
    ['BigInt', 2n ** 70n],
    ['Set', new Set(['\\Seen'])],
    ['RegExp', /x/],
    ['Error', new Error('boom')],
    ['typed array', new Float64Array([1])],
    ['binary', new Uint8Array([1, 2])],
  ];
  const paths: ((x: unknown) => unknown)[] = [
    (x) => x,
    (x) => ({ ...good, v: x }),
    (x) => ({ ...good, origin: x }),
    (x) => ({ ...good, seq: x }),
    (x) => ({ ...good, ts: x }),
    (x) => ({ ...good, update: x }),
    (x) => ({ ...good, update: { ...good.update, user: x } }),
    (x) => ({ ...good, update: { ...good.update, uid: x } }),
    (x) => ({ ...good, update: { ...good.update, flags: x } }),
    (x) => ({ ...good, update: { ...good.update, flags: [x] } }),
    (x) => ({ ...good, update: { type: 'expunge', user: 'a', mailbox: 'INBOX', uids: x } }),
    (x) => ({ ...good, update: { type: 'expunge', user: 'a', mailbox: 'INBOX', uids: [x] } }),
  ];
  for (const [name, x] of exotic) {
    for (const [i, at] of paths.entries()) {
      const bytes = everything.pack(at(x));
      assert.throws(() => decodeEnvelope(bytes), typed, `${name} at path ${i}`);
    }
  }
  const cyclic: Record<string, unknown> = { ...good };
  cyclic['update'] = cyclic;
  assert.throws(() => decodeEnvelope(everything.pack(cyclic)), typed, 'a cycle (structured clone)');
  const raw: [string, number[]][] = [
    ['reserved 0xc1', [0xc1]],
    ['undefined extension', [0xd4, 0x00, 0x00]],
    ['integer map key', [0x81, 0x01, 0x02]],
    ['nil map key', [0x81, 0xc0, 0x02]],
    ['__proto__ key', [0x81, 0xa9, ...Buffer.from('__proto__'), 0x80]],
  ];
  for (const [name, bytes] of raw) assert.throws(() => decodeEnvelope(Buffer.from(bytes)), typed, name);
  const polluted = packValue({ ...good, ['__proto__']: { polluted: 1 } });
  assert.throws(() => decodeEnvelope(polluted), typed);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined, 'no prototype pollution');
});

test('hub control records: extensions are refused, and so is anything over the size cap before it is decoded', () => {
  const hello = encodeHello({ v: 1, origin: 'o1', listen: true }).subarray(5);
  assert.deepEqual(decodeHello(hello), { v: 1, origin: 'o1', listen: true });
  assert.throws(() => decodeHello(new Packr({ moreTypes: true }).pack(new Set([1]))), badFrame);
  assert.throws(() => decodeHello(packValue({ v: 1, origin: 'o1', listen: true, pad: 'x'.repeat(MAX_CONTROL_BYTES) })), /at most/);
});

test('random bytes either decode or throw BAD_FRAME', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        unpackValue(Buffer.from(bytes));
      } catch (e) {
        assert.ok(badFrame(e), String(e));
      }
    }),
    { numRuns: 5000 },
  );
});
