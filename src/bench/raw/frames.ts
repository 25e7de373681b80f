import { decode, encode } from '@msgpack/msgpack';
import { encodeFrame, FrameDecoder } from '../../envelope/frame.js';
import { BATCH, benchUpdate } from '../spec.js';

/**
 * The naive sender's unit: one envelope encoded per update with the reference msgpack
 * library (@msgpack/msgpack), as a hand-rolled notifier would; no validation, no dedup.
 */
export const rawEnvelope = (i: number, modseq?: number): Buffer => {
  const update = modseq === undefined ? benchUpdate(i) : { ...benchUpdate(i), modseq };
  const bytes = encode({ v: 1, origin: 'raw', seq: i + 1, ts: Date.now(), update });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
};
const decodeReference = (bytes: Uint8Array): unknown => decode(bytes);
export const rawFrame = (i: number, modseq?: number): Buffer => encodeFrame(3, rawEnvelope(i, modseq));

/** Updates [from, from+BATCH) as one buffer of frames: the hand-batched sender's unit. */
export function rawBatch(from: number, n: number): Buffer {
  const frames: Buffer[] = [];
  for (let k = from; k < Math.min(n, from + BATCH); k++) frames.push(rawFrame(k));
  return Buffer.concat(frames);
}

/** A decoded raw envelope, unchecked (that is the point of the baseline). */
export type RawEnvelope = { update?: { modseq?: number } } | null;

/** Decodes every frame in a stream (or in one message), one call each. */
export function frameReader(onUpdate: (env: RawEnvelope) => void): (chunk: Buffer) => void {
  const d = new FrameDecoder(1 << 24);
  return (chunk) => d.push(chunk, (_kind, body) => onUpdate(decodeReference(body) as RawEnvelope));
}

/** One message = one envelope. */
export function envelopeReader(onUpdate: (env: RawEnvelope) => void): (msg: Uint8Array) => void {
  return (msg) => onUpdate(decodeReference(msg) as RawEnvelope);
}
