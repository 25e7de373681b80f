import { show, ValidationError } from '../errors.js';
import { isUid, UidSet, type Uid } from './uid-set.js';

/** A canonical IMAP sequence-set string as produced by `UidSet.toString()` (`"1:3,7"`). */
export type UidSetText = string & { readonly __uidSetText: unique symbol };
export type UserName = string;
export type MailboxName = string;
/** A system flag (`\Seen`) or keyword (`$Forwarded`). */
export type Flag = string;

/** `user` of a resync that covers every account: emitted when a gap's scope is unknown. */
export const ALL_USERS = '*';

interface MessageScope {
  user: UserName;
  mailbox: MailboxName;
  uidValidity?: number;
  modseq?: number;
}

export interface ExistsUpdate extends MessageScope {
  type: 'exists';
  uids: UidSetText;
}
export interface ExpungeUpdate extends MessageScope {
  type: 'expunge';
  uids: UidSetText;
}
export interface FlagsUpdate extends MessageScope {
  type: 'flags';
  uid: Uid;
  /** The full new flag set, not a delta: applying it twice is harmless. */
  flags: Flag[];
}
export type MailboxOp = 'create' | 'delete' | 'rename' | 'subscribe' | 'unsubscribe';
export interface MailboxUpdate {
  type: 'mailbox';
  user: UserName;
  mailbox: MailboxName;
  op: MailboxOp;
  to?: MailboxName;
}
/** Re-read `mailbox` (or every mailbox of `user`; `user: "*"` = every account) from storage. */
export interface ResyncUpdate {
  type: 'resync';
  user: UserName;
  mailbox?: MailboxName;
}

export type Update = ExistsUpdate | ExpungeUpdate | FlagsUpdate | MailboxUpdate | ResyncUpdate;
export type UpdateType = Update['type'];

const MAILBOX_OPS: ReadonlySet<string> = new Set(['create', 'delete', 'rename', 'subscribe', 'unsubscribe']);
export const MAX_USER_LENGTH = 320;
export const MAX_MAILBOX_LENGTH = 1024;
const MAX_FLAGS = 256;
const MAX_FLAG_LENGTH = 256;

const ALLOWED_KEYS: Record<UpdateType, ReadonlySet<string>> = {
  exists: new Set(['type', 'user', 'mailbox', 'uids', 'uidValidity', 'modseq']),
  expunge: new Set(['type', 'user', 'mailbox', 'uids', 'uidValidity', 'modseq']),
  flags: new Set(['type', 'user', 'mailbox', 'uid', 'flags', 'uidValidity', 'modseq']),
  mailbox: new Set(['type', 'user', 'mailbox', 'op', 'to']),
  resync: new Set(['type', 'user', 'mailbox']),
};
/** The canonical key order of each type (the sets' own order). */
const KEY_ORDER: Record<UpdateType, readonly string[]> = {
  exists: [...ALLOWED_KEYS.exists],
  expunge: [...ALLOWED_KEYS.expunge],
  flags: [...ALLOWED_KEYS.flags],
  mailbox: [...ALLOWED_KEYS.mailbox],
  resync: [...ALLOWED_KEYS.resync],
};

// eslint-disable-next-line no-control-regex
// RFC 3501 flag: "\" atom or atom; atom excludes ( ) { SP CTL % * " \ ] and non-ASCII.
const FLAG = /^\\?[!#$&'+,\-./0-9:;<=>?@A-Z[^_`a-z|}~]+$/;

/** A well-formed flag as accepted in updates (system flag or keyword atom). */
/** The flags nearly every update carries, known good without the regex (a hot path: every push and every receipt). */
export const COMMON_FLAGS: ReadonlySet<Flag> = new Set(['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft', '$Forwarded', '$Junk', '$NotJunk', '$MDNSent']);

export function isFlag(v: unknown): v is Flag {
  return typeof v === 'string' && (COMMON_FLAGS.has(v) || (v.length <= MAX_FLAG_LENGTH && FLAG.test(v)));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function name(v: unknown, field: string, max: number): string {
  if (typeof v !== 'string') throw new ValidationError(field, v === undefined ? 'is required' : 'must be a string');
  if (v.length === 0) throw new ValidationError(field, 'must not be empty');
  if (v.length > max) throw new ValidationError(field, `longer than ${max} characters`);
  let surrogates = false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) throw new ValidationError(field, 'must not contain control characters');
    if (c >= 0xd800 && c <= 0xdfff) surrogates = true;
  }
  if (surrogates && !v.isWellFormed()) throw new ValidationError(field, 'is not well-formed Unicode');
  return v;
}

function user(v: unknown, allowAll: boolean): UserName {
  const u = name(v, 'user', MAX_USER_LENGTH);
  if (u === ALL_USERS && !allowAll) throw new ValidationError('user', `"${ALL_USERS}" is reserved for whole-pipe resync`);
  return u;
}

function optionalU32(v: unknown, field: string): number | undefined {
  if (v === undefined) return undefined;
  if (!isUid(v)) throw new ValidationError(field, 'must be an integer 1..4294967295');
  return v;
}

function optionalModseq(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new ValidationError('modseq', 'must be a non-negative safe integer');
  }
  return v;
}

/** Flags compare case-insensitively (RFC 3501 §2.3.2); flag lists are short, so no Set. */
const sameFlag = (a: string, b: string): boolean => a.length === b.length && (a === b || a.toLowerCase() === b.toLowerCase());

/** A flag list as updates carry it: valid IMAP flags, duplicates (case-insensitive) dropped. */
export function validateFlags(v: unknown): Flag[] {
  return flagList(v, true);
}

/**
 * Checks a flag list. `copy`: always a new list; otherwise `v` itself unless it has a
 * duplicate to drop (then a new list from the first duplicate on).
 */
function flagList(v: unknown, copy: boolean): Flag[] {
  if (!Array.isArray(v)) throw new ValidationError('flags', v === undefined ? 'is required' : 'must be an array of flags');
  if (v.length > MAX_FLAGS) throw new ValidationError('flags', `more than ${MAX_FLAGS} flags`);
  let out: Flag[] | null = copy ? [] : null;
  for (let i = 0; i < v.length; i++) {
    const f: unknown = v[i];
    if (!isFlag(f)) {
      throw new ValidationError('flags', `${show(f)} is not a valid IMAP flag`);
    }
    // A plain loop, not some(closure): this runs for every flag of every update. The
    // earlier flags of `v` are all valid, and equal to a kept one where not kept.
    let seen = false;
    for (let k = 0; k < i && !seen; k++) seen = sameFlag(f, v[k] as string);
    if (seen) out ??= v.slice(0, i) as Flag[]; // the first duplicate: none before it
    else out?.push(f);
  }
  return out ?? (v as Flag[]);
}

/** Sets `key` of `out` to `v`, or, where `out` is the input itself, drops a key that is there undefined. */
function setOptional(out: Record<string, unknown>, key: string, v: unknown): void {
  if (v !== undefined) out[key] = v;
  else if (key in out) delete out[key];
}

function setScope(out: Record<string, unknown>, uidValidity: number | undefined, modseq: number | undefined): void {
  setOptional(out, 'uidValidity', uidValidity);
  setOptional(out, 'modseq', modseq);
}

/**
 * Checks an update from any untrusted source and returns its canonical form (a fresh
 * object with a fixed key order). Throws `ValidationError` naming the offending field.
 */
export function validateUpdate(input: unknown): Update {
  return canonicalUpdate(input, false);
}

/**
 * `validateUpdate` for an update just decoded, which nothing else holds: the same checks
 * and the same result, but the canonical form is made in the object itself (a UID set
 * rewritten, duplicate flags dropped, undefined fields removed), so a receiver allocates
 * nothing for a well-formed update. Keys in another order than the canonical one (another
 * library's encoder) get a fresh object, as a push does: what a handler or `listen --json`
 * sees is the same either way.
 */
export function validateDecodedUpdate(input: unknown): Update {
  return canonicalUpdate(input, true);
}

function canonicalUpdate(input: unknown, inPlace: boolean): Update {
  if (!isPlainObject(input)) throw new ValidationError('update', 'must be a JSON object');
  const type = input['type'];
  if (typeof type !== 'string' || !Object.hasOwn(ALLOWED_KEYS, type)) {
    throw new ValidationError('type', `must be one of ${Object.keys(ALLOWED_KEYS).join(', ')}`);
  }
  const allowed = ALLOWED_KEYS[type as UpdateType];
  const order = KEY_ORDER[type as UpdateType];
  let next = 0;
  // for…in, not Object.keys: no array per update (decoded maps have no inherited keys).
  for (const key in input) {
    if (!allowed.has(key)) throw new ValidationError(key, `unknown field for a "${type}" update`);
    if (!inPlace) continue;
    while (next < order.length && order[next] !== key) next++;
    if (next === order.length) inPlace = false; // out of canonical order: a fresh object
    else next++;
  }
  // Every value is read and checked before anything is written: `out` may be `input`.
  const u = user(input['user'], type === 'resync');
  switch (type as UpdateType) {
    case 'exists':
    case 'expunge': {
      const mailbox = name(input['mailbox'], 'mailbox', MAX_MAILBOX_LENGTH);
      if (input['uids'] === undefined) throw new ValidationError('uids', 'is required');
      const uids = UidSet.parse(input['uids'], 'uids').toString();
      const uidValidity = optionalU32(input['uidValidity'], 'uidValidity');
      const modseq = optionalModseq(input['modseq']);
      const out: Record<string, unknown> = inPlace ? input : { type, user: u, mailbox };
      out['uids'] = uids;
      setScope(out, uidValidity, modseq);
      return out as unknown as Update;
    }
    case 'flags': {
      const mailbox = name(input['mailbox'], 'mailbox', MAX_MAILBOX_LENGTH);
      const uid = input['uid'];
      if (!isUid(uid)) throw new ValidationError('uid', 'must be an integer 1..4294967295');
      const flags = input['flags'];
      const kept = flagList(flags, !inPlace);
      const uidValidity = optionalU32(input['uidValidity'], 'uidValidity');
      const modseq = optionalModseq(input['modseq']);
      const out: Record<string, unknown> = inPlace ? input : { type, user: u, mailbox, uid };
      if (!inPlace || kept !== flags) out['flags'] = kept;
      setScope(out, uidValidity, modseq);
      return out as unknown as Update;
    }
    case 'mailbox': {
      const mailbox = name(input['mailbox'], 'mailbox', MAX_MAILBOX_LENGTH);
      const op = input['op'];
      if (typeof op !== 'string' || !MAILBOX_OPS.has(op)) {
        throw new ValidationError('op', 'must be one of create, delete, rename, subscribe, unsubscribe');
      }
      let to: string | undefined;
      if (op === 'rename') to = name(input['to'], 'to', MAX_MAILBOX_LENGTH);
      else if (input['to'] !== undefined) throw new ValidationError('to', 'is only allowed with op "rename"');
      const out: Record<string, unknown> = inPlace ? input : { type, user: u, mailbox, op };
      setOptional(out, 'to', to);
      return out as unknown as Update;
    }
    case 'resync': {
      let mailbox: string | undefined;
      if (input['mailbox'] !== undefined) {
        if (u === ALL_USERS) throw new ValidationError('mailbox', `not allowed with user "${ALL_USERS}"`);
        mailbox = name(input['mailbox'], 'mailbox', MAX_MAILBOX_LENGTH);
      }
      const out: Record<string, unknown> = inPlace ? input : { type, user: u };
      setOptional(out, 'mailbox', mailbox);
      return out as unknown as Update;
    }
  }
}

export function uidsOf(u: ExistsUpdate | ExpungeUpdate): UidSet {
  return UidSet.parse(u.uids);
}

export function resyncAll(): ResyncUpdate {
  return { type: 'resync', user: ALL_USERS };
}
