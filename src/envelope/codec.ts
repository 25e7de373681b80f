import { FRAME_HEADER } from './frame.js';
import type { Update } from '../update/update.js';
import { begin, finish, pack, unpack, writeMapHeader, writeNumber, writeString, writeValue } from './msgpack.js';
import { validateEnvelope, type Envelope } from './envelope.js';

/**
 * Plain msgpack: every message decodes on its own, whichever peer (or peer restart)
 * produced it. Our own codec (msgpack.ts) enforces size, nesting and key limits while it
 * reads, which is what untrusted input needs.
 */
export function encodeEnvelope(env: Envelope): Buffer {
  return pack(env);
}

/**
 * Writes a checked envelope (canonical, as `validateEnvelope`/`validateUpdate` return it)
 * field by field: named property reads instead of a generic walk over unknown keys, which
 * is most of the cost of encoding a small message.
 */
function writeChecked(env: Envelope): void {
  writeMapHeader(5);
  writeString('v');
  writeNumber(env.v);
  writeString('origin');
  writeString(env.origin);
  writeString('seq');
  writeNumber(env.seq);
  writeString('ts');
  writeNumber(env.ts);
  writeString('update');
  const u = env.update as Update & { uidValidity?: number; modseq?: number; mailbox?: string; to?: string };
  // The map header comes first, so count the fields before writing them (no array per push).
  const own = u.type === 'flags' ? 2 : u.type === 'exists' || u.type === 'expunge' ? 1 : u.type === 'mailbox' ? (u.to === undefined ? 1 : 2) : 0;
  const optional = (u.mailbox === undefined ? 0 : 1) + (u.uidValidity === undefined ? 0 : 1) + (u.modseq === undefined ? 0 : 1);
  writeMapHeader(2 + own + optional);
  writeString('type');
  writeString(u.type);
  writeString('user');
  writeString(u.user);
  if (u.mailbox !== undefined) writeString('mailbox'), writeString(u.mailbox);
  switch (u.type) {
    case 'flags':
      writeString('uid');
      writeNumber(u.uid);
      writeString('flags');
      writeValue(u.flags, 2);
      break;
    case 'exists':
    case 'expunge':
      writeString('uids');
      writeString(u.uids);
      break;
    case 'mailbox':
      writeString('op');
      writeString(u.op);
      if (u.to !== undefined) writeString('to'), writeString(u.to);
      break;
  }
  if (u.uidValidity !== undefined) writeString('uidValidity'), writeNumber(u.uidValidity);
  if (u.modseq !== undefined) writeString('modseq'), writeNumber(u.modseq);
}

/** A checked envelope; with `frameKind`, as a whole stream frame (header included, no second copy). */
export function encodeCheckedEnvelope(env: Envelope, frameKind?: number): Buffer {
  begin(frameKind === undefined ? 0 : FRAME_HEADER);
  writeChecked(env);
  const bytes = finish();
  if (frameKind !== undefined) {
    bytes.writeUInt32BE(bytes.length - 4, 0);
    bytes[4] = frameKind;
  }
  return bytes;
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
