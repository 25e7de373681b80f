import { Decoder, Encoder } from '@msgpack/msgpack';
import { PipeError } from '../errors.js';
import { DEFAULT_MAX_FRAME } from './frame.js';
import { validateEnvelope, type Envelope } from './envelope.js';

/**
 * Plain msgpack: every message decodes on its own, whichever peer (or peer restart)
 * produced it. @msgpack/msgpack's decoder is iterative (no recursion to blow up on deep
 * nesting) and takes length caps, which is what untrusted input needs.
 */
const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder({
  maxStrLength: DEFAULT_MAX_FRAME,
  maxBinLength: DEFAULT_MAX_FRAME,
  maxArrayLength: 1_000_000,
  maxMapLength: 64,
  maxExtLength: 0,
});

export function encodeEnvelope(env: Envelope): Buffer {
  return packValue(env);
}

export function packValue(value: unknown): Buffer {
  const bytes = encoder.encode(value);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes msgpack from an untrusted peer; any decoder failure becomes BAD_FRAME. */
export function unpackValue(bytes: Uint8Array): unknown {
  try {
    return decoder.decode(bytes);
  } catch (err) {
    throw new PipeError('BAD_FRAME', `undecodable msgpack (${String((err as Error)?.message ?? err).slice(0, 80)})`);
  }
}

/** Decode and validate: throws BAD_FRAME for bytes that are not msgpack, BAD_INPUT for wrong shape. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  return validateEnvelope(unpackValue(bytes));
}
