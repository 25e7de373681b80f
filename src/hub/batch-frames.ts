import { FRAME_HEADER } from '../envelope/frame.js';
import { PipeError } from '../errors.js';
import { FrameRuns } from './frame-runs.js';
import { Kind } from './hub-protocol.js';

/**
 * BATCH: several UPDATE frames in one message of a transport that delimits messages
 * itself (WebSocket), `u8 6 | frame | frame | …`, each frame as on the Unix stream
 * (`u32 length | u8 kind | body`). One WebSocket message per update costs the sender a
 * frame header and a write vector and the receiver a parse and an event each, which is
 * most of a hub's time under load. A peer sends BATCH only to one whose HELLO or WELCOME
 * said how large a batch it reads (`batch`); a lone update still goes as a plain UPDATE.
 */

/** The most a batch holds, whatever the peer allows: small enough to keep latency low. */
export const MAX_BATCH_BYTES = 64 * 1024;

/**
 * Calls `onUpdate` with the position of each UPDATE frame in `buf[from..]` (the frames of
 * a BATCH, after its kind byte), in order, and returns how many there were. Throws
 * BAD_FRAME at the first bad one (those before it were handed out): no frame at all, a
 * frame past the end, a zero length, any kind but UPDATE.
 */
export function readBatch(buf: Buffer, from: number, onUpdate: (start: number, end: number) => void): number {
  const n = buf.length;
  if (n - from < FRAME_HEADER) throw new PipeError('BAD_FRAME', 'empty BATCH');
  let off = from;
  let count = 0;
  while (off < n) {
    if (n - off < FRAME_HEADER) throw new PipeError('BAD_FRAME', `BATCH: truncated frame header at byte ${off}`);
    const len = buf.readUInt32BE(off);
    if (len === 0) throw new PipeError('BAD_FRAME', `BATCH: zero-length frame at byte ${off}`);
    const end = off + 4 + len;
    if (end > n) throw new PipeError('BAD_FRAME', `BATCH: frame at byte ${off} runs ${end - n} bytes past the message`);
    if (buf[off + 4] !== Kind.Update) throw new PipeError('BAD_FRAME', `BATCH: frame of kind ${buf[off + 4]} (only UPDATE may be batched)`);
    onUpdate(off, end);
    count++;
    off = end;
  }
  return count;
}

/**
 * UPDATE frames waiting to go out over one message-based connection, in order: blocks of
 * one or more whole frames (views, not copied until they are packed into a message;
 * frames adjacent in memory are one view, copied in one piece).
 */
export class OutgoingFrames {
  private readonly queued = new FrameRuns();

  get pendingBytes(): number {
    return this.queued.bytes;
  }

  add(block: Buffer): void {
    this.queued.add(block);
  }

  /**
   * Empties the queue into messages: BATCHes of at most `maxBatch` bytes, or a frame alone
   * as a plain UPDATE (`u8 kind | body`). `maxBatch` 0: the peer reads no BATCH.
   */
  drain(maxBatch: number, send: (msg: Buffer) => void): void {
    const blocks = this.queued.take();
    let parts: Buffer[] = [];
    let size = 1;
    let frames = 0;
    const emit = (): void => {
      if (frames === 1) send(parts[0]!.subarray(4));
      else if (frames > 1) {
        const msg = Buffer.allocUnsafe(size);
        msg[0] = Kind.Batch;
        let at = 1;
        for (const p of parts) at += p.copy(msg, at);
        send(msg);
      }
      parts = [];
      size = 1;
      frames = 0;
    };
    const take = (block: Buffer, from: number, to: number): void => {
      if (to === from) return;
      parts.push(block.subarray(from, to));
      size += to - from;
    };
    for (const block of blocks) {
      // Consecutive frames of a block that fit go as one part (a view): one copy per message.
      let from = 0;
      let off = 0;
      while (off < block.length) {
        const end = off + 4 + block.readUInt32BE(off);
        if (frames > 0 && (maxBatch === 0 || size + (end - from) > maxBatch)) {
          take(block, from, off);
          emit();
          from = off;
        }
        frames++;
        off = end;
      }
      take(block, from, off);
    }
    emit();
  }
}
