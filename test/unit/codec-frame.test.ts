import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import fc from 'fast-check';
import { decodeEnvelope, decodeEnvelopeAt, encodeCheckedEnvelope, encodeEnvelope, packValue } from '../../src/envelope/codec.js';
import { ENVELOPE_VERSION, type Envelope } from '../../src/envelope/envelope.js';
import { encodeFrame, FRAME_HEADER, FrameDecoder } from '../../src/envelope/frame.js';
import { PipeError } from '../../src/errors.js';
import { OutgoingFrames, readBatch } from '../../src/hub/batch-frames.js';
import { decodeHello, decodeWelcome, encodeHello, encodeWelcome, Kind } from '../../src/hub/hub-protocol.js';
import type { UidSetText } from '../../src/update/update.js';

const env: Envelope = {
  v: ENVELOPE_VERSION,
  origin: 'abc',
  seq: 7,
  ts: 1_700_000_000_000,
  update: { type: 'flags', user: 'alice', mailbox: 'INBOX', uid: 5, flags: ['\\Seen'] },
};

test('small frames at any offset and of any length decode alike, whichever buffer they come from in turn', () => {
  // The scratch copy goes four bytes at a time through a DataView kept per source memory:
  // odd offsets, lengths that are not a multiple of four, sources that are views into a
  // larger ArrayBuffer, and alternating sources must all come out as the bytes were.
  const name = fc.stringMatching(/^[a-z]{1,40}$/);
  fc.assert(
    fc.property(fc.array(fc.tuple(name, fc.integer({ min: 1, max: 2 ** 31 }), fc.nat(7), fc.boolean()), { minLength: 1, maxLength: 12 }), (specs) => {
      const big = new ArrayBuffer(64 * 1024);
      let offset = 0;
      for (const [mailbox, uid, pad, otherSource] of specs) {
        const e: Envelope = { ...env, update: { type: 'flags', user: 'alice', mailbox, uid, flags: ['\\Seen'] } };
        const body = encodeEnvelope(e);
        assert.ok(body.length < 180);
        const src = otherSource ? Buffer.alloc(pad + body.length + 3, 0xab) : Buffer.from(big, (offset += 1 + pad), pad + body.length + 3);
        body.copy(src, pad);
        assert.deepEqual(decodeEnvelopeAt(src, pad, pad + body.length), e);
      }
    }),
  );
});

test('envelope round-trips through msgpack', () => {
  assert.deepEqual(decodeEnvelope(encodeEnvelope(env)), env);
});

test('frames read out of a larger buffer decode as on their own, small ones through a scratch copy that nothing keeps', () => {
  // Small frames (< 180 bytes) are copied to a scratch buffer first (msgpackr's fast paths
  // look at the absolute end offset); larger ones are read in place. Both, side by side.
  const long = { ...env, update: { ...env.update, mailbox: `Archive/${'x'.repeat(300)}` } };
  const envs = [env, long, { ...env, seq: 8, update: { ...env.update, uid: 6 } }, long, { ...env, origin: 'other', seq: 1 }];
  const bodies = envs.map((e) => encodeEnvelope(e));
  assert.ok(bodies[0]!.length < 180 && bodies[1]!.length >= 180, `${bodies[0]!.length} / ${bodies[1]!.length}`);
  const chunk = Buffer.concat([Buffer.from('junk'), ...bodies]);
  const decoded: Envelope[] = [];
  let at = 4;
  for (const b of bodies) {
    decoded.push(decodeEnvelopeAt(chunk, at, at + b.length));
    at += b.length;
  }
  // Each result stays as decoded after the later frames went through the same scratch.
  assert.deepEqual(decoded, envs);
  // A binary value (a view of the source) is refused, not kept.
  const bin = packValue({ ...env, origin: Buffer.from('abc') });
  assert.ok(bin.length < 180);
  assert.throws(() => decodeEnvelopeAt(Buffer.concat([Buffer.alloc(3), bin]), 3, 3 + bin.length), (e: unknown) => e instanceof PipeError && e.code === 'BAD_INPUT');
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

test('frame decoder: any cutting into many reads (headers split over three), and a caller that reuses its read buffer', () => {
  const frames = [encodeFrame(3, Buffer.from('hello')), encodeFrame(4, Buffer.alloc(300, 7)), encodeFrame(5, Buffer.from([1])), encodeFrame(3, Buffer.alloc(2000, 9))];
  const stream = Buffer.concat(frames);
  const want = frames.map((f) => [f[4], f.subarray(FRAME_HEADER).toString('hex')]);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 40 }), (sizes) => {
      const d = new FrameDecoder(4096);
      const got: [number, string][] = [];
      const scratch = Buffer.alloc(stream.length);
      for (let at = 0, k = 0; at < stream.length; k++) {
        const n = Math.min(sizes[k % sizes.length]!, stream.length - at);
        // One read buffer, overwritten by the next read: what was handed out must not change.
        stream.copy(scratch, 0, at, at + n);
        d.push(scratch.subarray(0, n), (kind, body) => void got.push([kind, body.toString('hex')]));
        scratch.fill(0xee);
        at += n;
      }
      assert.deepEqual(got, want);
      assert.equal(d.buffered, 0);
    }),
  );
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

describe('BATCH messages (hub protocol over WebSocket)', () => {
  const frame = (i: number): Buffer => encodeCheckedEnvelope({ v: 1, origin: 'o', seq: i, ts: 1, update: { type: 'exists', user: 'u', mailbox: 'INBOX', uids: '1' as UidSetText } }, Kind.Update);
  const spans = (msg: Buffer): number[] => {
    const seqs: number[] = [];
    readBatch(msg, 1, (s, e) => seqs.push(decodeEnvelope(msg.subarray(s + FRAME_HEADER, e)).seq));
    return seqs;
  };
  const drainAll = (blocks: Buffer[], max: number): Buffer[] => {
    const q = new OutgoingFrames();
    for (const b of blocks) q.add(b);
    const out: Buffer[] = [];
    q.drain(max, (m) => out.push(Buffer.from(m)));
    assert.equal(q.pendingBytes, 0);
    return out;
  };

  it('packs a turn of frames into BATCHes no larger than allowed, in order, a lone frame as a plain UPDATE', () => {
    const frames = Array.from({ length: 50 }, (_, i) => frame(i + 1));
    // Blocks of several frames, as a hub relays them, and single ones, as a pusher sends.
    const blocks = [Buffer.concat(frames.slice(0, 20)), ...frames.slice(20, 30), Buffer.concat(frames.slice(30))];
    const size = frames[0]!.length;
    const msgs = drainAll(blocks, 1 + 7 * size);
    assert.ok(msgs.every((m) => m.length <= 1 + 7 * size), 'none over the limit');
    const seqs = msgs.flatMap((m) => (m[0] === Kind.Batch ? spans(m) : [decodeEnvelope(m.subarray(1)).seq]));
    assert.deepEqual(seqs, Array.from({ length: 50 }, (_, i) => i + 1));
    assert.equal(msgs.filter((m) => m[0] === Kind.Batch).length, Math.ceil(50 / 7) - 1, 'full batches, the last one holding the one left over');
    assert.equal(msgs.at(-1)![0], Kind.Update, 'the 50th frame, alone, goes as a plain UPDATE');
  });

  it('a peer that reads no BATCH gets one plain UPDATE per frame; a frame larger than a batch goes alone', () => {
    const frames = [frame(1), frame(2), frame(3)];
    const plain = drainAll([Buffer.concat(frames)], 0);
    assert.deepEqual(plain.map((m) => [m[0], decodeEnvelope(m.subarray(1)).seq]), [[3, 1], [3, 2], [3, 3]]);
    const tiny = drainAll(frames, 10);
    assert.equal(tiny.length, 3);
    assert.ok(tiny.every((m) => m[0] === Kind.Update));
  });

  it('rejects hostile BATCHes, naming what is wrong, after handing out the frames before the bad one', () => {
    const good = frame(1);
    const cases: [string, Buffer, RegExp, number][] = [
      ['empty', Buffer.from([Kind.Batch]), /empty BATCH/, 0],
      ['truncated header', Buffer.concat([Buffer.from([Kind.Batch]), good, Buffer.from([0, 0])]), /truncated frame header/, 1],
      ['zero length', Buffer.concat([Buffer.from([Kind.Batch]), good, Buffer.from([0, 0, 0, 0, 3])]), /zero-length/, 1],
      ['runs past the end', Buffer.concat([Buffer.from([Kind.Batch]), good, good.subarray(0, good.length - 1)]), /past the message/, 1],
      ['a HELLO inside', Buffer.concat([Buffer.from([Kind.Batch]), good, encodeHello({ v: 1, origin: 'x', listen: true })]), /kind 1/, 1],
      ['a BATCH inside', Buffer.concat([Buffer.from([Kind.Batch]), Buffer.from([0, 0, 0, 1, Kind.Batch])]), /kind 6/, 0],
    ];
    for (const [what, msg, why, before] of cases) {
      let handed = 0;
      assert.throws(() => readBatch(msg, 1, () => handed++), (err: PipeError) => err.code === 'BAD_FRAME' && why.test(err.message), what);
      assert.equal(handed, before, `${what}: frames before the bad one`);
    }
  });

  it('HELLO and WELCOME carry an optional batch limit; a bad one is BAD_FRAME', () => {
    const hello = (o: object): Buffer => encodeHello(o as never).subarray(FRAME_HEADER);
    assert.equal(decodeHello(hello({ v: 1, origin: 'a', listen: true, batch: 65536 })).batch, 65536);
    assert.equal(decodeHello(hello({ v: 1, origin: 'a', listen: true })).batch, undefined, 'an older client says nothing: it gets plain UPDATEs');
    for (const batch of [0, 63, -1, 1.5, '64', true, 2 ** 60]) {
      assert.throws(() => decodeHello(hello({ v: 1, origin: 'a', listen: true, batch })), /batch must be an integer/, String(batch));
    }
    const welcome = encodeWelcome({ v: 1, epoch: 'e', first: 1, resync: false, batch: 4096 }).subarray(FRAME_HEADER);
    assert.equal(decodeWelcome(welcome).batch, 4096);
  });
});
