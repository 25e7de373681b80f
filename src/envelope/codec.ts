import { Packr, RESERVE_START_SPACE } from 'msgpackr/pack';
import { Unpackr } from 'msgpackr/unpack';
import { PipeError } from '../errors.js';
import { validateDecodedEnvelope, validateEnvelope, type Envelope } from './envelope.js';
import { FRAME_HEADER } from './frame.js';
import { readCanonicalEnvelope } from './canonical-reader.js';

/**
 * The wire codec is msgpackr, kept to plain msgpack so any msgpack library reads and
 * writes it (docs/wire-protocol.md):
 * - `useRecords: false`: msgpackr's records are a dictionary shared along one stream, so a
 *   message would not decode on its own (a peer restart, a late joiner, another library).
 * - `int64AsType: 'number'`: other encoders send a millisecond timestamp as uint64; a
 *   BigInt would fail validation. Anything past 2^53 is not a safe integer and fails it.
 * - `structuredClone: false`: no cyclic values from the id/pointer extensions.
 * - The `pack`/`unpack` entries are msgpackr's JavaScript code without the optional native
 *   string extractor: on ~130-byte envelopes it decodes no faster, and loading it costs a
 *   short command like `push` tens of milliseconds.
 *
 * A returned Buffer is a view of msgpackr's current 8 KiB block, which later packs do not
 * overwrite (msgpackr moves on, and starts a new block when one is full): frames may be
 * queued, kept for replay and written later. Never pass RESET_BUFFER_MODE or
 * `useBuffer()` here, which would break that.
 */
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number', structuredClone: false });

/** An envelope checked and encoded on its own (the library entry point; pipes use `encodeCheckedEnvelope`). */
export function encodeEnvelope(env: Envelope): Buffer {
  return packr.pack(validateEnvelope(env));
}

/**
 * A checked envelope (canonical, as `validateEnvelope`/`validateUpdate` return it: no
 * undefined fields, which msgpackr would write as an extension); with `frameKind`, as a
 * whole stream frame: msgpackr leaves room for the header in front, so there is no copy.
 */
export function encodeCheckedEnvelope(env: Envelope, frameKind?: number): Buffer {
  if (frameKind === undefined) return packr.pack(env);
  const frame = packr.pack(env, RESERVE_START_SPACE | FRAME_HEADER);
  frame.writeUInt32BE(frame.length - 4, 0);
  frame[4] = frameKind;
  return frame;
}

/** msgpack of a small protocol record (hub HELLO, WELCOME, NOTICE): plain data, no undefined fields. */
export function packValue(value: unknown): Buffer {
  return packr.pack(value);
}

/**
 * Decodes msgpack from an untrusted peer; any decoder failure is BAD_FRAME. The caller has
 * capped the size already (the frame cap bounds the work: decoding is linear in bytes).
 * What comes out is not yet trusted: extensions decode to Dates, Sets, BigInts, Errors…,
 * so every reader checks the shape strictly (`validateEnvelope`, the hub-protocol decoders).
 */
export function unpackValue(bytes: Uint8Array, span?: { start: number; end: number }): unknown {
  try {
    return unpackr.unpack(bytes, span);
  } catch (err) {
    // Deep nesting ends in a RangeError (stack overflow); it lands here like the rest.
    const why = err instanceof Error ? err.message : String(err);
    throw new PipeError('BAD_FRAME', `undecodable msgpack (${why.slice(0, 120)})`);
  }
}

/**
 * msgpackr judges by the absolute end offset, not by the length decoded, whether a source
 * is small enough for its map-key cache (end < 180) and for reading short strings in JS
 * (end < 140). A frame read in place out of a 64 KiB socket chunk got neither and decoded
 * about a quarter slower than the same bytes on their own (200,000 bench envelopes in
 * 64 KiB chunks, best of 5: 860–910 ns in place, 670–700 ns copied first). So a small
 * frame is copied into a scratch buffer and read from offset 0: the copy costs less than
 * it saves. Nothing decoded points into the scratch once read: envelope fields are
 * strings and numbers, and a binary value (a view) fails validation and is dropped.
 */
const SMALL_FRAME = 180;
const scratch = Buffer.allocUnsafe(SMALL_FRAME);
const scratchView = new DataView(scratch.buffer, scratch.byteOffset, SMALL_FRAME);
/** The source's memory as a DataView, kept while frames come out of the same read. */
let sourceMemory: ArrayBufferLike | null = null;
let sourceView: DataView | null = null;

/**
 * `buf[start, end)` to the front of the scratch, four bytes at a time: bench envelopes
 * read out of 64 KiB chunks, one process, Node 20, decoded in 490–540 ns each copied so,
 * 590–655 copied byte by byte, 490–660 through a view per call (which leaves garbage for
 * the collector too; Node 20's `buf.copy` makes one, ~230 ns each under the owner's
 * profile), 700–760 in place.
 */
function toScratch(buf: Buffer, start: number, end: number): void {
  if (buf.buffer !== sourceMemory) {
    sourceMemory = buf.buffer;
    sourceView = new DataView(buf.buffer);
  }
  const from = buf.byteOffset + start;
  const n = end - start;
  let j = 0;
  for (; j + 4 <= n; j += 4) scratchView.setUint32(j, sourceView!.getUint32(from + j, true), true);
  for (; j < n; j++) scratch[j] = buf[start + j]!;
}

/**
 * `decodeEnvelope` of `buf[start, end)`. A larger frame is read in place: msgpackr keeps
 * one DataView per source buffer, so frames read out of one socket chunk share it instead
 * of each making a view and a DataView of its own. The options object is reused (msgpackr
 * only reads it).
 */
const span = { start: 0, end: 0 };
export function decodeEnvelopeAt(buf: Buffer, start: number, end: number): Envelope {
  const canonical = readCanonicalEnvelope(buf, start, end);
  if (canonical !== undefined) return canonical;
  if (end - start < SMALL_FRAME) {
    toScratch(buf, start, end);
    span.start = 0;
    span.end = end - start;
    return validateDecodedEnvelope(unpackValue(scratch, span));
  }
  span.start = start;
  span.end = end;
  return validateDecodedEnvelope(unpackValue(buf, span));
}

/** Decode and validate: throws BAD_FRAME for bytes that are not msgpack, BAD_INPUT for wrong shape. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  return readCanonicalEnvelope(bytes, 0, bytes.length) ?? validateDecodedEnvelope(unpackValue(bytes));
}
