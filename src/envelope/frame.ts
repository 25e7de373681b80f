import { PipeError } from '../errors.js';

/**
 * Stream framing: `u32 length (big-endian) | u8 kind | body`, where length counts kind+body.
 * A length-prefixed frame (like git's pkt-line) lets a reader reject an oversized frame
 * from its header, before buffering a byte of it.
 */
export const FRAME_HEADER = 5;
export const DEFAULT_MAX_FRAME = 1024 * 1024;

export function encodeFrame(kind: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER + body.length);
  out.writeUInt32BE(body.length + 1, 0);
  out[4] = kind;
  out.set(body, FRAME_HEADER);
  return out;
}

/**
 * Splits a byte stream into frames. Throws BAD_FRAME on a zero-length or oversized frame;
 * the caller drops that connection (the stream position is lost after a bad header).
 */
export class FrameDecoder {
  private pending: Buffer | null = null;

  constructor(private readonly maxFrame = DEFAULT_MAX_FRAME) {}

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }

  /**
   * Feeds a chunk; calls `onFrame` for each complete frame, in order, with views of its
   * body and of the whole frame (`raw`, header included, for forwarding without a copy).
   */
  push(chunk: Buffer, onFrame: (kind: number, body: Buffer, raw: Buffer) => void): void {
    this.pushAt(chunk, (kind, buf, start, end) => onFrame(kind, buf.subarray(start + FRAME_HEADER, end), buf.subarray(start, end)));
  }

  /** Like `push`, with frame positions instead of views (see OnFrameAt). */
  pushAt(chunk: Buffer, onFrame: OnFrameAt): void {
    let buf = chunk;
    if (this.pending) {
      // Only the frame that straddled the reads is joined; the rest is read in place.
      buf = Buffer.concat([this.pending, chunk]);
    }
    this.pending = null;
    let off = 0;
    const n = buf.length;
    while (n - off >= 4) {
      const len = buf.readUInt32BE(off);
      if (len === 0) throw new PipeError('BAD_FRAME', 'zero-length frame');
      if (len > this.maxFrame) throw new PipeError('BAD_FRAME', `frame of ${len} bytes exceeds the ${this.maxFrame}-byte cap`);
      const end = off + 4 + len;
      if (end > n) break;
      onFrame(buf[off + 4]!, buf, off, end);
      off = end;
    }
    // A copy of the tail, so the big chunk it came from can be freed.
    if (off < n) this.pending = Buffer.from(buf.subarray(off));
  }
}

/**
 * Where one frame sits in the chunk it came in: `buf[start, end)` is the whole frame,
 * header included (the body starts at `start + FRAME_HEADER`). Handing out positions
 * instead of views spares two Buffer objects per frame on the hot path.
 */
export type OnFrameAt = (kind: number, buf: Buffer, start: number, end: number) => void;
