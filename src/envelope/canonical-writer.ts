import type { Origin, Seq } from './envelope.js';
import { isUid, MAX_UID } from '../update/uid-set.js';
import { isCanonicalUidSet } from '../update/uid-set-bytes.js';

/**
 * The push side of canonical-reader.ts: a message update (`flags`, `exists`, `expunge`)
 * with plain-ASCII names and common flags, already canonical, is checked and written as
 * an envelope in one pass, byte for byte what msgpackr writes for `validateEnvelope`'s
 * result (test/unit/canonical-codec.test.ts holds the two to the same bytes), without
 * the canonical copy of the update that would only be encoded and dropped. Anything else
 * returns `undefined`, and the caller takes the general way (validateUpdate, msgpackr),
 * which stays the definition, errors and all.
 */

/**
 * Frames are views of a block, like msgpackr's own: never overwritten once handed out
 * (a pusher keeps them until acknowledged, an owner for replay); a full block is left to
 * those views and a new one started.
 */
const BLOCK_BYTES = 64 * 1024;
let block = Buffer.allocUnsafe(BLOCK_BYTES);
let used = 0;
let w = 0;

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
/** A short string as msgpack writes it: fixstr header, then its bytes. */
const fixstr = (s: string): Uint8Array => Uint8Array.from([0xa0 | s.length, ...ascii(s)]);
/** The bytes before the origin, between origin and seq, ts, update. */
const ENVELOPE_HEAD = Uint8Array.from([0xde, 0, 5, ...fixstr('v'), 1, ...fixstr('origin')]);
const K_SEQ = fixstr('seq');
const K_TS = fixstr('ts');
const K_UPDATE = fixstr('update');
const K_TYPE = fixstr('type');
const K_USER = fixstr('user');
const K_MAILBOX = fixstr('mailbox');
const K_UID = fixstr('uid');
const K_UIDS = fixstr('uids');
const K_FLAGS = fixstr('flags');
const K_UIDVALIDITY = fixstr('uidValidity');
const K_MODSEQ = fixstr('modseq');
const TYPES: Readonly<Record<string, Uint8Array>> = { flags: fixstr('flags'), exists: fixstr('exists'), expunge: fixstr('expunge') };

const FLAG_BYTES: ReadonlyMap<string, Uint8Array> = new Map(['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '$Forwarded', '$Junk', '$NotJunk', '$MDNSent'].map((f) => [f, fixstr(f)]));
const FLAGS_KEYS: ReadonlySet<string> = new Set(['type', 'user', 'mailbox', 'uid', 'flags', 'uidValidity', 'modseq']);
const UIDS_KEYS: ReadonlySet<string> = new Set(['type', 'user', 'mailbox', 'uids', 'uidValidity', 'modseq']);
const MAX_USER = 320;
const MAX_MAILBOX = 1024;

function put(bytes: Uint8Array): void {
  for (let i = 0; i < bytes.length; i++) block[w++] = bytes[i]!;
}

function uint(n: number): void {
  if (n < 0x80) block[w++] = n;
  else if (n < 0x100) {
    block[w++] = 0xcc;
    block[w++] = n;
  } else if (n < 0x1_0000) {
    block[w++] = 0xcd;
    block[w++] = n >>> 8;
    block[w++] = n & 0xff;
  } else if (n <= MAX_UID) {
    block[w++] = 0xce;
    block.writeUInt32BE(n, w);
    w += 4;
  } else {
    // msgpackr writes a number past 32 bits as a float64
    block[w++] = 0xcb;
    block.writeDoubleBE(n, w);
    w += 8;
  }
}

/** `s` as a msgpack string if it is 1..max characters of printable ASCII; false otherwise. */
function name(s: unknown, max: number): boolean {
  if (typeof s !== 'string' || s.length === 0 || s.length > max) return false;
  const n = s.length;
  if (n < 0x20) block[w++] = 0xa0 | n;
  else if (n < 0x100) {
    block[w++] = 0xd9;
    block[w++] = n;
  } else {
    block[w++] = 0xda;
    block[w++] = n >>> 8;
    block[w++] = n & 0xff;
  }
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
    block[w++] = c;
  }
  return true;
}

function flagList(v: unknown): boolean {
  if (!Array.isArray(v) || v.length > 15) return false;
  block[w++] = 0x90 | v.length;
  for (let i = 0; i < v.length; i++) {
    const f: unknown = v[i];
    const bytes = typeof f === 'string' ? FLAG_BYTES.get(f) : undefined;
    // Another flag, or a duplicate to drop (the common ones differ even case-insensitively).
    if (bytes === undefined || v.indexOf(f) !== i) return false;
    put(bytes);
  }
  return true;
}

function uidSetText(v: unknown): boolean {
  if (typeof v !== 'string' || v.length === 0) return false;
  const n = v.length;
  if (n < 0x20) block[w++] = 0xa0 | n;
  else if (n < 0x100) {
    block[w++] = 0xd9;
    block[w++] = n;
  } else if (n < 0x1_0000) {
    block[w++] = 0xda;
    block.writeUInt16BE(n, w);
    w += 2;
  } else {
    block[w++] = 0xdb;
    block.writeUInt32BE(n, w);
    w += 4;
  }
  const from = w;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c > 0x7f) return false;
    block[w++] = c;
  }
  return isCanonicalUidSet(block, from, w);
}

/** What a frame can take at most besides its strings (headers, keys, numbers, 15 flags: ~300). */
const FIXED_BYTES = 512;

/**
 * `u` as the envelope `{v: 1, origin, seq, ts, update: u}` (as a stream frame of
 * `frameKind` if given), if it is a canonical message update this writer knows; else
 * `undefined`, with nothing written (then take the general way).
 */
export function writeCanonicalEnvelope(origin: Origin, seq: Seq, ts: number, u: unknown, frameKind?: number): Buffer | undefined {
  if (typeof u !== 'object' || u === null || !Number.isSafeInteger(ts) || ts < 0 || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  const proto: unknown = Object.getPrototypeOf(u);
  if (proto !== Object.prototype && proto !== null) return undefined;
  const o = u as Record<string, unknown>;
  const type = o['type'];
  const typeBytes = typeof type === 'string' ? TYPES[type] : undefined;
  if (typeBytes === undefined || !Object.hasOwn(TYPES, type as string)) return undefined;
  const flags = type === 'flags';
  const allowed = flags ? FLAGS_KEYS : UIDS_KEYS;
  for (const key in o) if (!allowed.has(key)) return undefined;
  const uids = o['uids'];
  const user = o['user'];
  const mailbox = o['mailbox'];
  if (typeof user !== 'string' || typeof mailbox !== 'string' || (user.length === 1 && user === '*')) return undefined;
  const uidsBytes = typeof uids === 'string' ? uids.length : 0;
  const size = FIXED_BYTES + origin.length + user.length + mailbox.length + uidsBytes;
  if (used + size > block.length) {
    block = Buffer.allocUnsafe(Math.max(BLOCK_BYTES, size));
    used = 0;
  }
  const start = used;
  w = frameKind === undefined ? start : start + 5;
  put(ENVELOPE_HEAD);
  if (!name(origin, 64)) return undefined;
  put(K_SEQ);
  uint(seq);
  put(K_TS);
  uint(ts);
  put(K_UPDATE);
  const uidValidity = o['uidValidity'];
  const modseq = o['modseq'];
  if (uidValidity !== undefined && !isUid(uidValidity)) return undefined;
  if (modseq !== undefined && (typeof modseq !== 'number' || !Number.isSafeInteger(modseq) || modseq < 0)) return undefined;
  const keys = (flags ? 5 : 4) + (uidValidity === undefined ? 0 : 1) + (modseq === undefined ? 0 : 1);
  block[w++] = 0xde;
  block[w++] = 0;
  block[w++] = keys;
  put(K_TYPE);
  put(typeBytes);
  put(K_USER);
  if (!name(user, MAX_USER)) return undefined;
  put(K_MAILBOX);
  if (!name(mailbox, MAX_MAILBOX)) return undefined;
  if (flags) {
    const uid = o['uid'];
    if (!isUid(uid)) return undefined;
    put(K_UID);
    uint(uid);
    put(K_FLAGS);
    if (!flagList(o['flags'])) return undefined;
  } else {
    put(K_UIDS);
    if (!uidSetText(uids)) return undefined;
  }
  if (uidValidity !== undefined) {
    put(K_UIDVALIDITY);
    uint(uidValidity);
  }
  if (modseq !== undefined) {
    put(K_MODSEQ);
    uint(modseq);
  }
  if (frameKind !== undefined) {
    block.writeUInt32BE(w - start - 4, start);
    block[start + 4] = frameKind;
  }
  used = w;
  return block.subarray(start, w);
}
