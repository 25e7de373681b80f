import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode as refDecode, encode as refEncode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { PipeError } from '../../src/errors.js';
import { pack, unpack } from '../../src/envelope/msgpack.js';

// The values envelopes carry: no undefined (dropped on encode), no -0 (encoded as 0).
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

test('msgpack: what we write, the reference library reads, and the other way round', () => {
  fc.assert(
    fc.property(value, (v) => {
      assert.deepEqual(refDecode(pack(v)), v);
      assert.deepEqual(unpack(Buffer.from(refEncode(v))), v);
      assert.deepEqual(unpack(pack(v)), v);
    }),
    { numRuns: 500 },
  );
});

test('msgpack: binary values and large strings and arrays use their wide headers', () => {
  for (const v of [new Uint8Array(300).fill(7), new Uint8Array(70_000).fill(1), 'x'.repeat(70_000), Array.from({ length: 70_000 }, (_, i) => i % 3), -(2 ** 40), 2 ** 53 - 1]) {
    assert.deepEqual(unpack(pack(v)), v);
    assert.deepEqual(refDecode(new Uint8Array(pack(v))), v); // a Uint8Array in, so bin comes out as one
  }
  const room = pack({ a: 1 }, 5);
  assert.deepEqual(unpack(room.subarray(5)), { a: 1 }, 'header room is left in front');
});

test('msgpack: every truncation of a valid message is BAD_FRAME, never a crash', () => {
  const whole = pack({ v: 1, origin: 'o', seq: 70_000, ts: Date.now(), update: { type: 'flags', flags: ['\\Seen', 'ü'], big: 'y'.repeat(300) } });
  for (let cut = 0; cut < whole.length; cut++) assert.throws(() => unpack(whole.subarray(0, cut)), badFrame, `cut at ${cut}`);
  assert.throws(() => unpack(Buffer.concat([whole, Buffer.from([0])])), badFrame, 'extra bytes');
});

test('msgpack: hostile input is refused with BAD_FRAME', () => {
  const cases: [string, number[]][] = [
    ['reserved 0xc1', [0xc1]],
    ['fixext', [0xd4, 0x01, 0x00]],
    ['timestamp ext', [0xd6, 0xff, 0, 0, 0, 0]],
    ['ext8', [0xc7, 0x01, 0x05, 0x00]],
    ['integer map key', [0x81, 0x01, 0x02]],
    ['nil map key', [0x81, 0xc0, 0x02]],
    ['__proto__ key', [0x81, 0xa9, ...Buffer.from('__proto__'), 0x80]],
    ['array claiming 4G items', [0xdd, 0xff, 0xff, 0xff, 0xff]],
    ['map claiming 65k entries', [0xde, 0xff, 0xff]],
    ['string claiming 4 GiB', [0xdb, 0xff, 0xff, 0xff, 0xff]],
    ['bin claiming 4 GiB', [0xc6, 0xff, 0xff, 0xff, 0xff]],
    ['empty', []],
  ];
  for (const [name, bytes] of cases) assert.throws(() => unpack(Buffer.from(bytes)), badFrame, name);
  const deep = Buffer.alloc(1_000_001, 0x91);
  deep[1_000_000] = 0x01;
  assert.throws(() => unpack(deep), badFrame, '1M nested arrays');
  assert.equal(Object.getPrototypeOf(unpack(pack({ constructor: 1 })) as object), Object.prototype);
});

test('msgpack: random bytes either decode or throw BAD_FRAME', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        unpack(Buffer.from(bytes));
      } catch (e) {
        assert.ok(badFrame(e), String(e));
      }
    }),
    { numRuns: 5000 },
  );
});

test('checked envelopes: the field-by-field encoder gives what the generic one gives, for every valid vector', async () => {
  const { readFile } = await import('node:fs/promises');
  const { encodeCheckedEnvelope, encodeEnvelope, decodeEnvelope } = await import('../../src/envelope/codec.js');
  const { validateUpdate } = await import('../../src/update/update.js');
  let n = 0;
  for (const file of ['update-vectors.jsonl', 'update-vectors-extra.jsonl']) {
    const text = await readFile(new URL(`../../../test/fixtures/${file}`, import.meta.url), 'utf8');
    for (const line of text.split('\n').filter(Boolean)) {
      const c = JSON.parse(line) as { in: unknown; out?: unknown };
      if (c.out === undefined) continue;
      const env = { v: 1 as const, origin: 'o1', seq: 7, ts: 1_700_000_000_000, update: validateUpdate(c.in) };
      assert.deepEqual(decodeEnvelope(encodeCheckedEnvelope(env)), decodeEnvelope(encodeEnvelope(env)), line);
      assert.deepEqual(decodeEnvelope(encodeCheckedEnvelope(env)).update, c.out, line);
      const frame = encodeCheckedEnvelope(env, 3);
      assert.equal(frame.readUInt32BE(0), frame.length - 4);
      assert.equal(frame[4], 3);
      assert.deepEqual(frame.subarray(5), encodeCheckedEnvelope(env));
      n++;
    }
  }
  assert.ok(n > 10, `${n} valid vectors`);
});
