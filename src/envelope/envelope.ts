import { show, ValidationError } from '../errors.js';
import { validateDecodedUpdate, validateUpdate, type Update } from '../update/update.js';

/** Identifies one pipe instance for its whole life; random, so a restart is a new origin. */
export type Origin = string;
/** Position of an update in its origin's stream: 1, 2, 3, … without holes. */
export type Seq = number;

export const ENVELOPE_VERSION = 1;

/** What travels on every wire: the update plus what dedup and gap detection need. */
export interface Envelope {
  v: typeof ENVELOPE_VERSION;
  origin: Origin;
  seq: Seq;
  /** Milliseconds since the epoch at push time; informational (latency), never trusted for order. */
  ts: number;
  update: Update;
}

const ORIGIN = /^[A-Za-z0-9_.:-]{1,64}$/;
const ENVELOPE_KEYS: ReadonlySet<string> = new Set(['v', 'origin', 'seq', 'ts', 'update']);

/** The last origin that passed: a stream carries the same few origins over and over. */
let lastOrigin = '';

export function isOrigin(v: unknown): v is Origin {
  if (v === lastOrigin && v !== '') return true;
  if (typeof v !== 'string' || !ORIGIN.test(v)) return false;
  lastOrigin = v;
  return true;
}

/** Validates a decoded envelope from an untrusted peer; the update inside is canonicalised. */
export function validateEnvelope(input: unknown): Envelope {
  const o = checkEnvelope(input);
  return { v: ENVELOPE_VERSION, origin: o['origin'] as Origin, seq: o['seq'] as Seq, ts: o['ts'] as number, update: validateUpdate(o['update']) };
}

/**
 * `validateEnvelope` for an envelope just decoded, which nothing else holds: the same
 * checks, and the envelope and its update are themselves the result (see
 * `validateDecodedUpdate`): a receiver allocates nothing for a well-formed one.
 */
export function validateDecodedEnvelope(input: unknown): Envelope {
  const o = checkEnvelope(input);
  o['update'] = validateDecodedUpdate(o['update']);
  return o as unknown as Envelope;
}

/** Every envelope field but the update checked; the update is the caller's to check. */
function checkEnvelope(input: unknown): Record<string, unknown> {
  // A plain object only: msgpack extensions decode to Dates, Sets, Errors and the like.
  const proto: unknown = typeof input === 'object' && input !== null ? Object.getPrototypeOf(input) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    throw new ValidationError('envelope', 'must be a map');
  }
  const o = input as Record<string, unknown>;
  if (o['v'] !== ENVELOPE_VERSION) {
    throw new ValidationError('v', `unsupported envelope version ${show(o['v'])} (this build speaks ${ENVELOPE_VERSION})`);
  }
  for (const key in o) {
    if (!ENVELOPE_KEYS.has(key)) throw new ValidationError(key, 'unknown envelope field');
  }
  if (!isOrigin(o['origin'])) throw new ValidationError('origin', 'must be 1-64 characters of [A-Za-z0-9_.:-]');
  const seq = o['seq'];
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
    throw new ValidationError('seq', 'must be a positive safe integer');
  }
  const ts = o['ts'];
  if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0) throw new ValidationError('ts', 'must be a non-negative number');
  return o;
}
