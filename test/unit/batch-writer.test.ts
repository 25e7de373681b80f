import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { BatchWriter } from '../../pipes/unix/batch-writer.js';

/** A connected pair of real Unix sockets; what the far end reads, and every Buffer the near end wrote. */
async function socketPair(): Promise<{ near: net.Socket; received: () => Promise<Buffer>; writes: Buffer[]; handleWrites: Buffer[][]; done: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'up-bw-'));
  const file = path.join(dir, 's');
  const chunks: Buffer[] = [];
  let far: net.Socket | undefined;
  let ended: () => void = () => {};
  const end = new Promise<void>((r) => (ended = r));
  const server = net.createServer((s) => {
    far = s;
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', ended);
  });
  await new Promise<void>((r) => server.listen(file, r));
  const near = net.connect(file);
  await new Promise<void>((r) => near.once('connect', r));
  const writes: Buffer[] = [];
  const write = near.write.bind(near) as (b: Buffer) => boolean;
  near.write = ((b: Buffer) => (writes.push(b), write(b))) as typeof near.write;
  // What reaches the socket handle: one entry per write or writev system call Node makes.
  type Chunk = { chunk: Buffer };
  type Writev = (chunks: Chunk[], cb: (err?: Error | null) => void) => void;
  type Write = (chunk: Buffer, encoding: BufferEncoding, cb: (err?: Error | null) => void) => void;
  const handleWrites: Buffer[][] = [];
  const s = near as unknown as { _writev: Writev; _write: Write };
  const writev = s._writev.bind(near);
  const write1 = s._write.bind(near);
  s._writev = (chunks, cb) => (handleWrites.push(chunks.map((c) => c.chunk)), writev(chunks, cb));
  s._write = (chunk, enc, cb) => (handleWrites.push([chunk]), write1(chunk, enc, cb));
  return {
    near,
    writes,
    handleWrites,
    received: async () => (await end, Buffer.concat(chunks)),
    done: async () => {
      far?.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

test('frames that follow each other in memory go out as one view of it; others go with it in one writev, uncopied; the bytes are the same', async () => {
  const p = await socketPair();
  try {
    // Not from Node's shared pool (where a copy could share their ArrayBuffer): their own memory.
    const block = Buffer.alloc(300);
    for (let i = 0; i < 300; i++) block[i] = i & 0xff;
    const other = Buffer.alloc(9);
    other.write('elsewhere');
    const w = new BatchWriter(p.near, 1 << 20);
    // One turn: three adjacent frames of one block → one write that is a view of the block.
    w.write(block.subarray(0, 100));
    w.write(block.subarray(100, 150));
    w.write(block.subarray(150, 300));
    await new Promise((r) => setImmediate(r));
    assert.equal(p.writes.length, 1);
    assert.equal(p.writes[0]!.buffer, block.buffer, 'not copied');
    assert.equal(p.writes[0]!.byteOffset, block.byteOffset);
    assert.equal(p.writes[0]!.length, 300);
    // Next turn: a gap in the block, another buffer, adjacent again: still exactly what was written, in order.
    w.write(block.subarray(0, 10));
    w.write(block.subarray(20, 30)); // not adjacent: bytes 10..20 must not go out
    w.write(other);
    w.write(block.subarray(30, 40)); // adjacent in memory to 20..30, but written after `other`
    await new Promise((r) => setImmediate(r));
    // One system call for the turn, its parts views of what was written (no copy of them).
    assert.equal(p.handleWrites.length, 2);
    const parts = p.handleWrites[1]!;
    assert.deepEqual(parts.map((b) => b.length), [10, 10, 9, 10]);
    assert.deepEqual(
      parts.map((b) => [b.buffer === block.buffer ? 'block' : b.buffer === other.buffer ? 'other' : 'a copy', b.byteOffset - (b.buffer === block.buffer ? block.byteOffset : other.byteOffset)]),
      [['block', 0], ['block', 20], ['other', 0], ['block', 30]],
    );
    await w.end();
    const want = Buffer.concat([block, block.subarray(0, 10), block.subarray(20, 30), other, block.subarray(30, 40)]);
    assert.deepEqual(await p.received(), want);
  } finally {
    await p.done();
  }
});

test('past the flush size a run goes out at once, and the next frame starts a new one', async () => {
  const p = await socketPair();
  try {
    const block = Buffer.alloc(1000, 7);
    const w = new BatchWriter(p.near, 256);
    for (let i = 0; i < 10; i++) w.write(block.subarray(i * 100, (i + 1) * 100));
    // Flushed when 300 bytes were queued, three times; the last 100 wait for the end of the turn.
    assert.deepEqual(p.writes.map((b) => b.length), [300, 300, 300]);
    for (const b of p.writes) assert.equal(b.buffer, block.buffer);
    await w.end();
    assert.equal((await p.received()).length, 1000);
  } finally {
    await p.done();
  }
});
