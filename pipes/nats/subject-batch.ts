import { unpackValue } from '../../src/envelope/codec.js';
import { PipeError } from '../../src/errors.js';

/**
 * Core NATS costs most per message, not per byte: nats.js encodes the subject and a
 * protocol line for each publish and parses one for each delivery. So consecutive pushes
 * to the same subject within one event-loop turn go out as one message, a *batch*: a
 * msgpack array of envelopes (the envelopes' own bytes behind an array header, so plain
 * msgpack that any library reads; docs/wire-protocol.md). Only consecutive ones: a push
 * to another subject ends the batch, so every origin's updates stay in push order (C1)
 * and subjects stay per mailbox for interest subscribers. A lone update is sent as a plain
 * envelope, as before batches existed.
 */
export const MAX_BATCH_UPDATES = 1024;
/** Well under NATS's default max_payload (1 MiB), so a batch never meets the server's cap. */
export const MAX_BATCH_BYTES = 64 * 1024;

export type Publish = (subject: string, payload: Buffer) => void;

export class SubjectBatcher {
  private subject = '';
  private parts: Buffer[] = [];
  private bytes = 0;
  private scheduled = false;

  constructor(private readonly publish: Publish) {}

  add(subject: string, envelope: Buffer): void {
    if (this.parts.length > 0 && (subject !== this.subject || this.parts.length >= MAX_BATCH_UPDATES || this.bytes + envelope.length > MAX_BATCH_BYTES)) this.emit();
    this.subject = subject;
    this.parts.push(envelope);
    this.bytes += envelope.length;
    if (!this.scheduled) {
      this.scheduled = true;
      // After the caller's synchronous burst, before the turn's flush (a setImmediate).
      process.nextTick(() => this.emit());
    }
  }

  /** Publishes what is held; call before anything else is published on the connection. */
  emit(): void {
    this.scheduled = false;
    const parts = this.parts;
    if (parts.length === 0) return;
    this.parts = [];
    const bytes = this.bytes;
    this.bytes = 0;
    this.publish(this.subject, parts.length === 1 ? parts[0]! : encodeBatch(parts, bytes));
  }
}

function encodeBatch(parts: Buffer[], bytes: number): Buffer {
  const n = parts.length;
  const head = n < 16 ? 1 : 3;
  const out = Buffer.allocUnsafe(head + bytes);
  if (head === 1) out[0] = 0x90 | n;
  else {
    out[0] = 0xdc;
    out.writeUInt16BE(n, 1);
  }
  let at = head;
  for (const p of parts) {
    out.set(p, at); // not p.copy: its argument checks cost more than the copy of ~100 bytes
    at += p.length;
  }
  return out;
}

/** A batch starts with a msgpack array header; an envelope is a map. */
export function isBatch(payload: Uint8Array): boolean {
  const b = payload[0];
  return b !== undefined && ((b & 0xf0) === 0x90 || b === 0xdc || b === 0xdd);
}

/**
 * The values of a batch, not yet validated (each is checked as an envelope by the caller).
 * The caller has capped its size. BAD_FRAME for bytes that do not decode, for an empty
 * batch, and for more updates than a batch may hold.
 */
export function decodeBatch(payload: Uint8Array): unknown[] {
  // The count is read before decoding: a hostile header must not cost a decode.
  const n = payload[0] === 0xdc ? (payload[1]! << 8) | payload[2]! : payload[0] === 0xdd ? Number.POSITIVE_INFINITY : payload[0]! & 0x0f;
  if (n > MAX_BATCH_UPDATES) throw new PipeError('BAD_FRAME', `batch of more than ${MAX_BATCH_UPDATES} updates`);
  const v = unpackValue(payload);
  if (!Array.isArray(v) || v.length === 0) throw new PipeError('BAD_FRAME', 'empty batch');
  return v;
}
