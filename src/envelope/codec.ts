import { Packr, RESERVE_START_SPACE } from 'msgpackr/pack';
import { Unpackr } from 'msgpackr/unpack';
import { PipeError } from '../errors.js';
import { validateEnvelope, type Envelope } from './envelope.js';
import { FRAME_HEADER } from './frame.js';

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
 * `decodeEnvelope` of `buf[start, end)`, read in place: msgpackr keeps one DataView per
 * source buffer, so frames read out of one socket chunk share it instead of each making a
 * view and a DataView of its own. The options object is reused (msgpackr only reads it).
 */
const span = { start: 0, end: 0 };
export function decodeEnvelopeAt(buf: Buffer, start: number, end: number): Envelope {
  span.start = start;
  span.end = end;
  return validateEnvelope(unpackValue(buf, span));
}

/** Decode and validate: throws BAD_FRAME for bytes that are not msgpack, BAD_INPUT for wrong shape. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  return validateEnvelope(unpackValue(bytes));
}
