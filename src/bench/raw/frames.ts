import { Packr, RESERVE_START_SPACE } from 'msgpackr/pack';
import { Unpackr } from 'msgpackr/unpack';
import { FRAME_HEADER, FrameDecoder } from '../../envelope/frame.js';
import { BATCH, benchUpdate, monotonicMs } from '../spec.js';

/**
 * What a hand-written notifier sends, encoded with the fastest msgpack for JS (msgpackr,
 * plain msgpack like the pipe's): the same envelope as the pipe's, without validation,
 * dedup or acknowledgement. Earlier baselines used @msgpack/msgpack, 5–7× slower to encode.
 */
const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

const envelope = (i: number, modseq?: number): object => ({ v: 1, origin: 'raw', seq: i + 1, ts: Date.now(), update: modseq === undefined ? benchUpdate(i) : { ...benchUpdate(i), modseq } });

/** msgpackr leaves room for the stream header in front: no copy. */
function framed(value: unknown): Buffer {
  const frame = packr.pack(value, RESERVE_START_SPACE | FRAME_HEADER);
  frame.writeUInt32BE(frame.length - 4, 0);
  frame[4] = 3;
  return frame;
}

/** One update as one message (NATS, WebSocket). */
export const rawEnvelope = (i: number, modseq?: number): Buffer => packr.pack(envelope(i, modseq));
/** One update as one length-prefixed frame (a Unix stream). */
export const rawFrame = (i: number, modseq?: number): Buffer => framed(envelope(i, modseq));

const batchOf = (from: number, n: number): object[] => {
  const batch: object[] = [];
  for (let k = from; k < Math.min(n, from + BATCH); k++) batch.push(envelope(k));
  return batch;
};
/** Updates [from, from+BATCH) packed as one msgpack array: the hand-batched sender's message. */
export const rawBatch = (from: number, n: number): Buffer => packr.pack(batchOf(from, n));
/** The same batch as one frame of a Unix stream. */
export const rawBatchFrame = (from: number, n: number): Buffer => framed(batchOf(from, n));

/** A decoded raw envelope, unchecked (that is the point of the baseline). */
export type RawEnvelope = { update?: { modseq?: number } } | null;

/** One message, one envelope or a batch of them. */
function deliver(bytes: Uint8Array, onUpdate: (env: RawEnvelope) => void): void {
  const v = unpackr.unpack(bytes) as RawEnvelope | RawEnvelope[];
  if (Array.isArray(v)) for (const e of v) onUpdate(e);
  else onUpdate(v);
}

/** Decodes every frame in a stream. */
export function frameReader(onUpdate: (env: RawEnvelope) => void): (chunk: Buffer) => void {
  const d = new FrameDecoder(1 << 24);
  return (chunk) => d.push(chunk, (_kind, body) => deliver(body, onUpdate));
}

/** Decodes one message (NATS, WebSocket). */
export function envelopeReader(onUpdate: (env: RawEnvelope) => void): (msg: Uint8Array) => void {
  return (msg) => deliver(msg, onUpdate);
}

/**
 * The latency baselines' sender: one update at a time at a steady rate, stamped like the
 * pipe's (push time in µs in modseq), timers between them as in the pipe's run.
 */
export async function sendAtRate(rate: number, n: number, send: (i: number, stampUs: number) => void): Promise<void> {
  const t0 = monotonicMs();
  for (let i = 0; i < n; i++) {
    const wait = t0 + (i * 1000) / rate - monotonicMs();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    send(i, Math.round(monotonicMs() * 1000));
  }
}
