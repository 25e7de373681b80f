import { pack, unpack } from './msgpack.js';
import { validateEnvelope, type Envelope } from './envelope.js';

/**
 * Plain msgpack: every message decodes on its own, whichever peer (or peer restart)
 * produced it. Our own codec (msgpack.ts) enforces size, nesting and key limits while it
 * reads, which is what untrusted input needs.
 */
export function encodeEnvelope(env: Envelope): Buffer {
  return pack(env);
}

export function packValue(value: unknown): Buffer {
  return pack(value);
}

/** Decodes msgpack from an untrusted peer; any decoder failure is BAD_FRAME. */
export function unpackValue(bytes: Uint8Array): unknown {
  return unpack(bytes);
}

/** Decode and validate: throws BAD_FRAME for bytes that are not msgpack, BAD_INPUT for wrong shape. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  return validateEnvelope(unpackValue(bytes));
}
