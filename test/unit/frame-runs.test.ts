import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { FrameRuns } from '../../src/hub/frame-runs.js';

/** A frame as the pipe writes it (`u32 length | u8 kind | body`) at `offset` of `memory`. */
function frameAt(memory: Buffer, offset: number, bodyLength: number, mark: number): Buffer {
  memory.writeUInt32BE(bodyLength + 1, offset);
  memory[offset + 4] = 3;
  memory.fill(mark & 0xff, offset + 5, offset + 5 + bodyLength);
  return memory.subarray(offset, offset + 5 + bodyLength);
}

test('frames back to back in one memory are held as one view of it, not a copy', () => {
  const memory = Buffer.alloc(1000);
  const runs = new FrameRuns();
  let at = 0;
  for (let i = 0; i < 10; i++) {
    const f = frameAt(memory, at, 20, i);
    runs.add(f);
    at += f.length;
  }
  assert.equal(runs.count, 10);
  assert.equal(runs.bytes, 250);
  const views = runs.take();
  assert.equal(views.length, 1);
  assert.equal(views[0]!.buffer, memory.buffer, 'a view of the frames\' own memory');
  assert.equal(views[0]!.byteOffset, memory.byteOffset);
  assert.equal(views[0]!.length, 250);
  assert.equal(runs.count, 0);
  assert.equal(runs.take().length, 0, 'take() empties it');
});

test('a frame at the next offset of another memory starts a new view', () => {
  // Same offsets, different memory: joining them would send bytes that were never pushed.
  const a = Buffer.alloc(100);
  const b = Buffer.alloc(100);
  const runs = new FrameRuns();
  runs.add(frameAt(a, 0, 10, 1));
  runs.add(frameAt(b, 15, 10, 2));
  runs.add(frameAt(a, 15, 10, 3)); // follows a's first frame in memory, but not in order
  const views = runs.take();
  assert.equal(views.length, 3);
  assert.deepEqual(
    views.map((v) => v[5]),
    [1, 2, 3],
  );
});

test('whatever the layout, the views hold exactly the frames added, in order, and forEach(skip) gives each from skip on', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(2), fc.boolean(), fc.integer({ min: 0, max: 40 })), { minLength: 1, maxLength: 60 }),
      fc.nat(70),
      (specs, skip) => {
        const memories = [Buffer.alloc(4096), Buffer.alloc(4096), Buffer.alloc(4096)];
        const next = [0, 0, 0];
        const added: Buffer[] = [];
        const runs = new FrameRuns();
        specs.forEach(([m, gap, body], i) => {
          if (gap) next[m]! += 3; // not adjacent to the last frame written there
          const f = frameAt(memories[m]!, next[m]!, body, i);
          next[m]! += f.length;
          added.push(f);
          runs.add(f);
        });
        assert.equal(runs.count, added.length);
        assert.equal(runs.bytes, added.reduce((n, f) => n + f.length, 0));
        const seen: Buffer[] = [];
        runs.forEach(skip, (f) => seen.push(Buffer.from(f)));
        assert.deepEqual(seen, added.slice(skip).map((f) => Buffer.from(f)));
        const views = runs.take();
        assert.ok(views.every((v) => memories.some((m) => m.buffer === v.buffer)), 'views, never copies');
        assert.deepEqual(Buffer.concat(views), Buffer.concat(added));
        // Joined exactly where a frame began where the one before it ended, in the same memory.
        const joins = added.filter((f, i) => i > 0 && f.buffer === added[i - 1]!.buffer && f.byteOffset === added[i - 1]!.byteOffset + added[i - 1]!.length).length;
        assert.equal(views.length, added.length - joins);
      },
    ),
  );
});
