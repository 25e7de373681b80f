import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ReplayRing } from '../../src/hub/replay-ring.js';

/** A length-prefixed frame of `n` bytes in all whose body bytes say `tag`. */
const frameOf = (n: number, tag: number): Buffer => {
  const b = Buffer.alloc(n, tag & 0xff);
  b.writeUInt32BE(n - 4, 0);
  return b;
};

/** What a ring must hold: the newest frames within the count bound, and within the byte bound but for the newest. */
function model(lengths: number[], maxFrames: number, maxBytes: number): number {
  let oldest = 0;
  let bytes = 0;
  for (let k = 0; k < lengths.length; k++) {
    if (k - oldest === maxFrames) bytes -= lengths[oldest++]!;
    bytes += lengths[k]!;
    while (bytes > maxBytes && oldest < k) bytes -= lengths[oldest++]!;
  }
  return oldest; // index of the oldest frame kept
}

const lengthsArb = fc.array(fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 5, max: 700 }) }, { weight: 1, arbitrary: fc.integer({ min: 200_000, max: 300_000 }) }), { minLength: 1, maxLength: 400 });

test('the ring holds copies of the newest frames: what it keeps is exactly what was stored, whatever came after', () => {
  fc.assert(
    fc.property(lengthsArb, fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 3 * 1024 * 1024 }), fc.integer({ min: 0, max: 60 }), (lengths, maxFrames, maxBytes, runOf) => {
      const ring = new ReplayRing(maxFrames, maxBytes);
      const handedOut: [number, Buffer][] = [];
      for (let k = 0; k < lengths.length; ) {
        if (runOf > 0) {
          // Up to runOf frames at an offset inside a larger read, as the socket owner stores
          // them (runs of many small frames cross slab boundaries).
          const n = Math.min(1 + (k % runOf), lengths.length - k);
          const frames = lengths.slice(k, k + n).map((len, j) => frameOf(len, k + j));
          const read = Buffer.concat([Buffer.from([9, 9, 9]), ...frames, Buffer.from([7])]);
          const relayed = ring.keepRun(read, 3, read.length - 1);
          assert.deepEqual(relayed, read.subarray(3, read.length - 1), 'the run to relay');
          read.fill(0xee); // the source is not held
          k += n;
        } else {
          ring.add(frameOf(lengths[k]!, k));
          k += 1;
        }
        const got = ring.since(ring.oldest)!;
        if (got.length > 0) handedOut.push([ring.next - 1, got[got.length - 1]!]);
      }
      assert.equal(ring.next, lengths.length + 1);
      const oldest = ring.oldest - 1; // as an index into lengths
      assert.ok(oldest >= model(lengths, maxFrames, maxBytes), 'never more than the bounds allow');
      const held = ring.since(ring.oldest)!;
      assert.equal(held.length, lengths.length - oldest);
      held.forEach((f, j) => assert.deepEqual(f, frameOf(lengths[oldest + j]!, oldest + j), `frame ${oldest + j}`));
      // What since() returned earlier is a copy: later frames reusing the slabs did not change it.
      for (const [pos, f] of handedOut) assert.deepEqual(f, frameOf(lengths[pos - 1]!, pos - 1));
      assert.equal(ring.since(ring.oldest - 1), null);
      assert.equal(ring.since(ring.next + 1), null);
      assert.deepEqual(ring.since(ring.next), []);
    }),
    { numRuns: 300 },
  );
});

test('under the count bound with bytes to spare the ring keeps exactly the last maxFrames, through many reused slabs', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 5, max: 2000 }), { minLength: 1, maxLength: 3000 }), fc.integer({ min: 1, max: 1000 }), (lengths, maxFrames) => {
      const ring = new ReplayRing(maxFrames, 4 * 1024 * 1024);
      lengths.forEach((n, k) => ring.add(frameOf(n, k)));
      assert.equal(ring.next - ring.oldest, Math.min(maxFrames, lengths.length));
      const held = ring.since(ring.oldest)!;
      const first = lengths.length - held.length;
      held.forEach((f, j) => assert.deepEqual(f, frameOf(lengths[first + j]!, first + j)));
    }),
    { numRuns: 100 },
  );
});

test('a long stream of small frames: the ring stays within its byte bound and keeps nearly all of it', () => {
  const maxBytes = 1024 * 1024;
  const ring = new ReplayRing(1_000_000, maxBytes);
  for (let k = 0; k < 100_000; k++) ring.add(frameOf(100, k));
  const held = ring.since(ring.oldest)!;
  const bytes = held.reduce((s, f) => s + f.length, 0);
  assert.ok(bytes <= maxBytes, `${bytes} bytes held`);
  assert.ok(bytes >= maxBytes - 512 * 1024, `only ${bytes} bytes held`);
  assert.deepEqual(held[held.length - 1], frameOf(100, 99_999));
});

test('runs of small frames stored out of reads fill slab after slab: every frame kept is the frame stored', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 5000 }), fc.integer(), (runLengths, maxFrames, seed) => {
      const ring = new ReplayRing(maxFrames, 2 * 1024 * 1024);
      const lengths: number[] = [];
      let x = seed >>> 0;
      for (let r = 0; r < 30 * runLengths.length; r++) {
        const count = runLengths[r % runLengths.length]!;
        const frames: Buffer[] = [];
        for (let j = 0; j < count; j++) {
          x = (Math.imul(x, 1103515245) + 12345) >>> 0;
          const len = 5 + (x % 1500);
          frames.push(frameOf(len, lengths.length));
          lengths.push(len);
        }
        const read = Buffer.concat([Buffer.from([1]), ...frames]);
        ring.keepRun(read, 1, read.length);
        read.fill(0xee);
      }
      assert.equal(ring.next, lengths.length + 1);
      const oldest = ring.oldest - 1;
      assert.ok(oldest >= model(lengths, maxFrames, 2 * 1024 * 1024), 'never more than the bounds allow');
      const held = ring.since(ring.oldest)!;
      assert.equal(held.length, lengths.length - oldest);
      held.forEach((f, j) => assert.deepEqual(f, frameOf(lengths[oldest + j]!, oldest + j), `frame ${oldest + j}`));
    }),
    { numRuns: 30 },
  );
});

test('frames passed are numbered, not kept: a resume from before them finds them gone; keeping picks up after', () => {
  const ring = new ReplayRing(8, 1024);
  ring.add(frameOf(10, 1));
  ring.add(frameOf(10, 2));
  assert.equal(ring.next, 3);
  ring.pass(5); // drops what was held too: nobody can be replayed across a gap
  assert.equal(ring.next, 8);
  assert.equal(ring.oldest, 8);
  assert.equal(ring.since(1), null, 'a kept frame before the passed ones is gone with them');
  assert.equal(ring.since(5), null, 'a passed frame cannot be replayed');
  assert.deepEqual(ring.since(8), [], 'nothing missed, nothing to replay');
  assert.equal(ring.add(frameOf(12, 9)), 8, 'numbering goes on where the passed frames left it');
  const run = Buffer.concat([frameOf(6, 10), frameOf(7, 11)]);
  ring.keepRun(run, 0, run.length);
  assert.deepEqual(ring.since(8), [frameOf(12, 9), frameOf(6, 10), frameOf(7, 11)]);
  assert.equal(ring.since(7), null);
  ring.pass(0);
  assert.equal(ring.since(8), null, 'passing drops what was kept, even none');
  assert.deepEqual(ring.since(11), []);
});
