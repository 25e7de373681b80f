import { packValue, unpackValue } from '../envelope/codec.js';
import { isOrigin, type Origin, type Seq } from '../envelope/envelope.js';
import { encodeFrame } from '../envelope/frame.js';
import { PipeError, show } from '../errors.js';

/**
 * The hub protocol (docs/wire-protocol.md), spoken to a hub that relays for its clients:
 * the Unix socket owner (length-prefixed frames on a stream) and the WebSocket hub (one
 * WebSocket message per frame, without the length prefix).
 *
 *   client → hub  HELLO   {v, origin, listen, epoch?, last?}   first frame, exactly once
 *   hub → client  WELCOME {v, epoch, first, resync}            then UPDATE frames numbered first, first+1, …
 *   either way    UPDATE  msgpack Envelope
 *   hub → client  ACK     f64 BE: how many UPDATE frames of this connection the hub has taken
 *   hub → client  NOTICE  {code, message} just before the hub drops the connection
 *   either way    BATCH   UPDATE frames, length-prefixed, in one WebSocket message (batch-frames.ts),
 *                         only to a peer whose HELLO/WELCOME carried `batch`
 */
export const PROTOCOL_VERSION = 1;

export const Kind = {
  Hello: 1,
  Welcome: 2,
  Update: 3,
  Ack: 4,
  Notice: 5,
  Batch: 6,
} as const;

/** A hub-assigned position in the hub's fan-out stream (per epoch). */
export type HubSeq = number;

export interface Hello {
  v: number;
  origin: Origin;
  /** true for a listener; pushers only send. */
  listen: boolean;
  /** Set on reconnect: the epoch and last hub position this listener saw. */
  epoch?: string;
  last?: HubSeq;
  /** This client reads BATCH messages of up to this many bytes (WebSocket clients). */
  batch?: number;
}

export interface Welcome {
  v: number;
  epoch: string;
  /** Hub position of the first UPDATE frame that follows. */
  first: HubSeq;
  /** The owner cannot replay what this listener missed: it must resync. */
  resync: boolean;
  /** This hub reads BATCH messages of up to this many bytes (the WebSocket hub). */
  batch?: number;
}

export interface Notice {
  code: string;
  message: string;
}

/**
 * HELLO, WELCOME and NOTICE are a few dozen bytes. The cap is checked before decoding: a
 * HELLO is what a peer sends before anything else, and msgpack that defines records is
 * costly to decode (a MiB of it takes msgpackr about a second).
 */
export const MAX_CONTROL_BYTES = 4096;

function record(body: Buffer, what: string): Record<string, unknown> {
  if (body.length > MAX_CONTROL_BYTES) throw new PipeError('BAD_FRAME', `${what} of ${body.length} bytes (at most ${MAX_CONTROL_BYTES})`);
  const v = unpackValue(body);
  const proto: unknown = typeof v === 'object' && v !== null ? Object.getPrototypeOf(v) : undefined;
  if (proto !== Object.prototype) throw new PipeError('BAD_FRAME', `${what} is not a map`);
  return v as Record<string, unknown>;
}

/** `batch` of a HELLO or WELCOME: absent, or a byte count a batch of two frames fits in. */
function batchLimit(v: unknown, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 64) throw new PipeError('BAD_FRAME', `${what}: batch must be an integer of at least 64 (bytes)`);
  return v;
}

function hubSeq(v: unknown): v is HubSeq {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export function encodeHello(h: Hello): Buffer {
  return encodeFrame(Kind.Hello, packValue(h));
}

export function decodeHello(body: Buffer): Hello {
  const o = record(body, 'HELLO');
  if (o['v'] !== PROTOCOL_VERSION) throw new PipeError('BAD_FRAME', `unsupported protocol version ${show(o['v'])}, this build speaks ${PROTOCOL_VERSION}`);
  if (!isOrigin(o['origin'])) throw new PipeError('BAD_FRAME', 'HELLO: bad origin');
  if (typeof o['listen'] !== 'boolean') throw new PipeError('BAD_FRAME', 'HELLO: listen must be a boolean');
  const h: Hello = { v: PROTOCOL_VERSION, origin: o['origin'], listen: o['listen'] };
  if (o['epoch'] !== undefined || o['last'] !== undefined) {
    if (typeof o['epoch'] !== 'string' || o['epoch'].length > 64 || !hubSeq(o['last'])) throw new PipeError('BAD_FRAME', 'HELLO: bad resume position');
    h.epoch = o['epoch'];
    h.last = o['last'];
  }
  const batch = batchLimit(o['batch'], 'HELLO');
  if (batch !== undefined) h.batch = batch;
  return h;
}

export function encodeWelcome(w: Welcome): Buffer {
  return encodeFrame(Kind.Welcome, packValue(w));
}

export function decodeWelcome(body: Buffer): Welcome {
  const o = record(body, 'WELCOME');
  if (o['v'] !== PROTOCOL_VERSION) throw new PipeError('BAD_FRAME', `socket owner speaks protocol ${show(o['v'])}, this build speaks ${PROTOCOL_VERSION}`);
  if (typeof o['epoch'] !== 'string' || !hubSeq(o['first']) || typeof o['resync'] !== 'boolean') {
    throw new PipeError('BAD_FRAME', 'WELCOME: malformed');
  }
  const w: Welcome = { v: PROTOCOL_VERSION, epoch: o['epoch'], first: o['first'], resync: o['resync'] };
  const batch = batchLimit(o['batch'], 'WELCOME');
  if (batch !== undefined) w.batch = batch;
  return w;
}

export function encodeAck(seq: Seq): Buffer {
  const out = Buffer.allocUnsafe(13);
  out.writeUInt32BE(9, 0);
  out[4] = Kind.Ack;
  out.writeDoubleBE(seq, 5);
  return out;
}

export function decodeAck(body: Buffer): Seq {
  if (body.length !== 8) throw new PipeError('BAD_FRAME', 'ACK: wrong length');
  return body.readDoubleBE(0);
}

export function encodeNotice(n: Notice): Buffer {
  return encodeFrame(Kind.Notice, packValue(n));
}

export function decodeNotice(body: Buffer): Notice {
  try {
    const o = record(body, 'NOTICE');
    return { code: String(o['code']).slice(0, 40), message: String(o['message']).slice(0, 500) };
  } catch {
    return { code: 'BAD_FRAME', message: 'unreadable notice' };
  }
}

/** A frame without its 4-byte length prefix: one WebSocket message. */
export function unprefixed(frame: Buffer): Buffer {
  return frame.subarray(4);
}
