import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeEnvelope, encodeEnvelope, packValue } from '../../src/envelope/codec.js';
import { ENVELOPE_VERSION, type Envelope } from '../../src/envelope/envelope.js';
import { encodeFrame, FrameDecoder } from '../../src/envelope/frame.js';
import { PipeError } from '../../src/errors.js';

const env: Envelope = {
  v: ENVELOPE_VERSION,
  origin: 'abc',
  seq: 7,
  ts: 1_700_000_000_000,
  update: { type: 'flags', user: 'alice', mailbox: 'INBOX', uid: 5, flags: ['\\Seen'] },
};

test('envelope round-trips through msgpack', () => {
  assert.deepEqual(decodeEnvelope(encodeEnvelope(env)), env);
});

test('bad envelopes: each fails with a typed error naming the problem', () => {
  const cases: [string, Buffer, RegExp][] = [
    ['empty', Buffer.alloc(0), /msgpack/],
    ['never-used byte', Buffer.from([0xc1]), /msgpack|map/], // msgpackr decodes it to a marker object
    ['truncated', encodeEnvelope(env).subarray(0, 10), /msgpack/],
    ['array', packValue([1, 2]), /envelope/],
    ['wrong version', packValue({ ...env, v: 2 }), /version/],
    ['no version', packValue({ origin: 'a', seq: 1, ts: 1, update: env.update }), /version/],
    ['bad origin', packValue({ ...env, origin: 'has space' }), /origin/],
    ['seq 0', packValue({ ...env, seq: 0 }), /seq/],
    ['seq float', packValue({ ...env, seq: 1.5 }), /seq/],
    ['ts negative', packValue({ ...env, ts: -1 }), /ts/],
    ['extra field', packValue({ ...env, x: 1 }), /x/],
    ['bad update', packValue({ ...env, update: { type: 'flags' } }), /user/],
  ];
  for (const [name, bytes, msg] of cases) {
    assert.throws(() => decodeEnvelope(bytes), (e: unknown) => e instanceof PipeError && msg.test(e.message), name);
  }
});

test('hostile nesting depth is a typed rejection, not a crash', () => {
  const deep = Buffer.alloc(1_000_001, 0x91); // 1M nested one-element arrays
  deep[1_000_000] = 0x01;
  assert.throws(() => decodeEnvelope(deep), (e: unknown) => e instanceof PipeError && (e.code === 'BAD_FRAME' || e.code === 'BAD_INPUT'));


});

test('random bytes never crash the decoder', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        decodeEnvelope(bytes);
      } catch (e) {
        assert.ok(e instanceof PipeError, String(e));
      }
    }),
    { numRuns: 3000 },
  );
});

test('frame decoder reassembles frames split at every byte boundary', () => {
  const frames = [encodeFrame(3, Buffer.from('hello')), encodeFrame(4, Buffer.alloc(300, 7)), encodeFrame(5, Buffer.from([1]))];
  const stream = Buffer.concat(frames);
  for (let cut = 0; cut <= stream.length; cut++) {
    const d = new FrameDecoder(1024);
    const got: [number, number][] = [];
    const on = (kind: number, body: Buffer): void => void got.push([kind, body.length]);
    d.push(stream.subarray(0, cut), on);
    d.push(stream.subarray(cut), on);
    assert.deepEqual(got, [[3, 5], [4, 300], [5, 1]], `cut at ${cut}`);
    assert.equal(d.buffered, 0);
  }
});

test('frame decoder refuses oversized and zero-length frames from the header alone', () => {
  const big = Buffer.alloc(5);
  big.writeUInt32BE(2000, 0);
  assert.throws(() => new FrameDecoder(1024).push(big, () => {}), /exceeds/);
  assert.throws(() => new FrameDecoder(1024).push(Buffer.alloc(4), () => {}), /zero-length/);
});

test('frame decoder holds a truncated frame without emitting it', () => {
  const d = new FrameDecoder(1024);
  let n = 0;
  d.push(encodeFrame(3, Buffer.alloc(100)).subarray(0, 50), () => n++);
  assert.equal(n, 0);
  assert.equal(d.buffered, 50);
});
