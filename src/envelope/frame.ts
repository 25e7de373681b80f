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
  /** The start of a frame that did not fit in its read: copies, joined once it is whole. */
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** That frame's whole length (header included), once its header is in; -1 before. */
  private partLen = -1;

  constructor(private readonly maxFrame = DEFAULT_MAX_FRAME) {}

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.partBytes;
  }

  /**
   * Feeds a chunk; calls `onFrame` for each complete frame, in order, with views of its
   * body and of the whole frame (`raw`, header included, for forwarding without a copy).
   */
  push(chunk: Buffer, onFrame: (kind: number, body: Buffer, raw: Buffer) => void): void {
    this.pushAt(chunk, (kind, buf, start, end) => onFrame(kind, buf.subarray(start + FRAME_HEADER, end), buf.subarray(start, end)));
  }

  /**
   * Like `push`, with frame positions instead of views (see OnFrameAt). Frames wholly
   * inside `chunk` are handed out in place; only a frame that straddles reads is copied
   * (joining every read to the tail of the one before copied the whole stream once more).
   */
  pushAt(chunk: Buffer, onFrame: OnFrameAt): void {
    let off = 0;
    if (this.partBytes > 0) {
      off = this.finishStraddler(chunk, onFrame);
      if (off < 0) return;
    }
    const n = chunk.length;
    while (n - off >= 4) {
      const len = this.checked(chunk.readUInt32BE(off));
      const end = off + 4 + len;
      if (end > n) {
        this.partLen = 4 + len;
        break;
      }
      onFrame(chunk[off + 4]!, chunk, off, end);
      off = end;
    }
    // A copy, so the chunk it came from can be freed (and may be reused by the caller).
    if (off < n) this.hold(Buffer.from(chunk.subarray(off)));
  }

  private checked(len: number): number {
    if (len === 0) throw new PipeError('BAD_FRAME', 'zero-length frame');
    if (len > this.maxFrame) throw new PipeError('BAD_FRAME', `frame of ${len} bytes exceeds the ${this.maxFrame}-byte cap`);
    return len;
  }

  private hold(part: Buffer): void {
    this.parts.push(part);
    this.partBytes += part.length;
  }

  /** Completes the frame begun in earlier reads: the offset in `chunk` past it, or -1 if it is still not whole. */
  private finishStraddler(chunk: Buffer, onFrame: OnFrameAt): number {
    if (this.partLen < 0) {
      // Fewer than 4 bytes are held: the header itself straddles.
      const missing = 4 - this.partBytes;
      if (chunk.length < missing) {
        this.hold(Buffer.from(chunk));
        return -1;
      }
      const head = Buffer.concat([...this.parts, chunk.subarray(0, missing)], 4);
      this.partLen = 4 + this.checked(head.readUInt32BE(0));
    }
    const need = this.partLen - this.partBytes;
    if (chunk.length < need) {
      this.hold(Buffer.from(chunk));
      return -1;
    }
    const frame = Buffer.concat([...this.parts, chunk.subarray(0, need)], this.partLen);
    this.parts = [];
    this.partBytes = 0;
    this.partLen = -1;
    onFrame(frame[4]!, frame, 0, frame.length);
    return need;
  }
}

/**
 * Where one frame sits in the chunk it came in: `buf[start, end)` is the whole frame,
 * header included (the body starts at `start + FRAME_HEADER`). Handing out positions
 * instead of views spares two Buffer objects per frame on the hot path.
 */
export type OnFrameAt = (kind: number, buf: Buffer, start: number, end: number) => void;
