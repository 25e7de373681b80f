import { isOrigin, type Origin, type Seq } from './envelope.js';
import { msgpackStr } from './msgpack-str.js';
import { COMMON_FLAGS, MAX_MAILBOX_LENGTH, MAX_USER_LENGTH } from '../update/update.js';
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
let view = new DataView(block.buffer, block.byteOffset, block.length);
let used = 0;
let w = 0;

const K_TS = Uint8Array.from(msgpackStr('ts'));
const K_UID = Uint8Array.from(msgpackStr('uid'));
const K_UIDS = Uint8Array.from(msgpackStr('uids'));
const K_FLAGS = Uint8Array.from(msgpackStr('flags'));
const K_UIDVALIDITY = Uint8Array.from(msgpackStr('uidValidity'));
const K_MODSEQ = Uint8Array.from(msgpackStr('modseq'));

/**
 * What follows `ts` up to the user's name: the update key, the update's map header (its
 * entry count) and its type, for each type and count.
 */
const UPDATE_HEAD: Readonly<Record<string, readonly Uint8Array[]>> = Object.fromEntries(
  ['flags', 'exists', 'expunge'].map((t) => [t, [4, 5, 6, 7].map((keys) => Uint8Array.from([...msgpackStr('update'), 0xde, 0, keys, ...msgpackStr('type'), ...msgpackStr(t), ...msgpackStr('user')]))]),
);

/**
 * The common flags and their bytes, looked up by a scan that compares strings (the same
 * string in memory, mostly) instead of a Map, whose hash lookup cost more on every push.
 */
const FLAG_TEXT: readonly string[] = [...COMMON_FLAGS];
const FLAG_BYTES: readonly Uint8Array[] = FLAG_TEXT.map((f) => Uint8Array.from(msgpackStr(f)));

function flagBytes(f: unknown): Uint8Array | undefined {
  for (let i = 0; i < FLAG_TEXT.length; i++) if (FLAG_TEXT[i] === f) return FLAG_BYTES[i];
  return undefined;
}

function put(bytes: Uint8Array): void {
  if (bytes.length > 8) block.set(bytes, w);
  else for (let i = 0; i < bytes.length; i++) block[w + i] = bytes[i]!;
  w += bytes.length;
}

function uint(n: number): void {
  if (n < 0x80) block[w++] = n;
  else if (n < 0x100) {
    block[w++] = 0xcc;
    block[w++] = n;
  } else if (n < 0x1_0000) {
    block[w++] = 0xcd;
    view.setUint16(w, n);
    w += 2;
  } else if (n <= MAX_UID) {
    block[w++] = 0xce;
    view.setUint32(w, n);
    w += 4;
  } else {
    // msgpackr writes a number past 32 bits as a float64
    block[w++] = 0xcb;
    view.setFloat64(w, n);
    w += 8;
  }
}

/**
 * The bytes of the last name written in one place, with what follows it: a pipe pushes
 * for the same origin always and mostly for the same few users and mailboxes, so most
 * writes compare a string and copy its bytes.
 */
class NameBytes {
  private text: string | null = null;
  private bytes = new Uint8Array(0);

  constructor(
    private readonly valid: (s: string) => boolean,
    private readonly before: readonly number[],
    private readonly after: readonly number[],
  ) {}

  /** `before`, `s` as a msgpack string, `after`; undefined if `s` is not valid. */
  of(s: string): Uint8Array | undefined {
    if (s !== this.text) {
      if (!this.valid(s)) return undefined;
      this.bytes = Uint8Array.from([...this.before, ...msgpackStr(s), ...this.after]);
      this.text = s;
    }
    return this.bytes;
  }
}

function printable(s: string, max: number): boolean {
  if (s.length === 0 || s.length > max) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** The envelope's start up to `seq`'s value: map header, `v: 1`, the origin. */
const origins = new NameBytes(isOrigin, [0xde, 0, 5, ...msgpackStr('v'), 1, ...msgpackStr('origin')], msgpackStr('seq'));
/** A user `*` (every account) is only for a resync: left to the general path to refuse. */
const users = new NameBytes((s) => printable(s, MAX_USER_LENGTH) && s !== '*', [], msgpackStr('mailbox'));
const mailboxes = new NameBytes((s) => printable(s, MAX_MAILBOX_LENGTH), [], []);

function flagList(v: unknown): boolean {
  if (!Array.isArray(v) || v.length > 15) return false;
  block[w++] = 0x90 | v.length;
  for (let i = 0; i < v.length; i++) {
    const f: unknown = v[i];
    const bytes = flagBytes(f);
    // Another flag, or a duplicate to drop (the common ones differ even case-insensitively).
    if (bytes === undefined || v.indexOf(f) !== i) return false;
    put(bytes);
  }
  return true;
}

/** The header of a string of `n` bytes: fixstr, str 8, 16 or 32, the shortest that holds it. */
function strHead(n: number): void {
  if (n < 0x20) block[w++] = 0xa0 | n;
  else if (n < 0x100) {
    block[w++] = 0xd9;
    block[w++] = n;
  } else {
    block[w++] = n < 0x1_0000 ? 0xda : 0xdb;
    if (n < 0x1_0000) view.setUint16(w, n);
    else view.setUint32(w, n);
    w += n < 0x1_0000 ? 2 : 4;
  }
}

function uidSetText(v: unknown): boolean {
  if (typeof v !== 'string' || v.length === 0) return false;
  const n = v.length;
  strHead(n);
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
  const heads = typeof type === 'string' && Object.hasOwn(UPDATE_HEAD, type) ? UPDATE_HEAD[type] : undefined;
  if (heads === undefined) return undefined;
  const flags = type === 'flags';
  // Every key must be one the update's map holds (a switch of constant strings: a Set's
  // hash lookup per key cost more on every push), and counted: see `entries` below.
  let present = 0;
  for (const key in o) {
    switch (key) {
      case 'type':
      case 'user':
      case 'mailbox':
      case 'uidValidity':
      case 'modseq':
        break;
      case 'uid':
      case 'flags':
        if (!flags) return undefined;
        break;
      case 'uids':
        if (flags) return undefined;
        break;
      default:
        return undefined;
    }
    present++;
  }
  const user = o['user'];
  const mailbox = o['mailbox'];
  const uidValidity = o['uidValidity'];
  const modseq = o['modseq'];
  if (typeof user !== 'string' || typeof mailbox !== 'string') return undefined;
  if (uidValidity !== undefined && !isUid(uidValidity)) return undefined;
  if (modseq !== undefined && (typeof modseq !== 'number' || !Number.isSafeInteger(modseq) || modseq < 0)) return undefined;
  // type, user, mailbox, uid and flags (or uids), and the optional two if given. A key the
  // loop did not see (not enumerable) or one of ours set to undefined makes the counts
  // differ: the general path's to judge.
  const entries = (flags ? 5 : 4) + (uidValidity === undefined ? 0 : 1) + (modseq === undefined ? 0 : 1);
  if (present !== entries) return undefined;
  const head = origins.of(origin);
  const userBytes = users.of(user);
  const mailboxBytes = mailboxes.of(mailbox);
  if (head === undefined || userBytes === undefined || mailboxBytes === undefined) return undefined;
  const uids = o['uids'];
  const size = FIXED_BYTES + head.length + userBytes.length + mailboxBytes.length + (typeof uids === 'string' ? uids.length : 0);
  if (used + size > block.length) {
    block = Buffer.allocUnsafe(Math.max(BLOCK_BYTES, size));
    view = new DataView(block.buffer, block.byteOffset, block.length);
    used = 0;
  }
  const start = used;
  w = frameKind === undefined ? start : start + 5;
  put(head);
  uint(seq);
  put(K_TS);
  uint(ts);
  put(heads[entries - 4]!);
  put(userBytes);
  put(mailboxBytes);
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
    view.setUint32(start, w - start - 4);
    block[start + 4] = frameKind;
  }
  used = w;
  return block.subarray(start, w);
}
