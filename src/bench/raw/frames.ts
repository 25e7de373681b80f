import { decode, encode } from '@msgpack/msgpack';
import { encodeFrame, FrameDecoder } from '../../envelope/frame.js';
import { BATCH, benchUpdate } from '../spec.js';

/**
 * The naive sender's unit: one envelope encoded per update with the reference msgpack
 * library (@msgpack/msgpack), as a hand-rolled notifier would; no validation, no dedup.
 */
export const rawEnvelope = (i: number): Buffer => {
  const bytes = encode({ v: 1, origin: 'raw', seq: i + 1, ts: Date.now(), update: benchUpdate(i) });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
};
const unpackValue = (bytes: Uint8Array): unknown => decode(bytes);
export const rawFrame = (i: number): Buffer => encodeFrame(3, rawEnvelope(i));

/** Updates [from, from+BATCH) as one buffer of frames: the hand-batched sender's unit. */
export function rawBatch(from: number, n: number): Buffer {
  const frames: Buffer[] = [];
  for (let k = from; k < Math.min(n, from + BATCH); k++) frames.push(rawFrame(k));
  return Buffer.concat(frames);
}

/** Decodes every frame in a stream (or in one message) and counts them. */
export function frameCounter(onUpdates: (count: number) => void): (chunk: Buffer) => void {
  const d = new FrameDecoder(1 << 24);
  return (chunk) => {
    let k = 0;
    d.push(chunk, (_kind, body) => {
      unpackValue(body);
      k++;
    });
    if (k) onUpdates(k);
  };
}

/** One message = one envelope. */
export function envelopeCounter(onUpdates: (count: number) => void): (msg: Uint8Array) => void {
  return (msg) => {
    unpackValue(msg);
    onUpdates(1);
  };
}
