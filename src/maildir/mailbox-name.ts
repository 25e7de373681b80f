import { ValidationError } from '../errors.js';
import type { MailboxName } from '../update/update.js';

export const INBOX: MailboxName = 'INBOX';
/** The IMAP hierarchy separator this store exposes. On disk Maildir++ uses "." instead. */
export const HIERARCHY_SEPARATOR = '/';

const MAX_MAILBOX_LENGTH = 1024; // same bound the update schema applies
const MAX_DIR_NAME_BYTES = 255; // NAME_MAX: a Maildir++ folder is one flat directory name
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * Folder directory names use percent-escaping of UTF-8 bytes, not modified UTF-7:
 * printable ASCII except "%" "." "/" stays as is (so "Q4 *report* > 1" is readable on
 * disk), everything else becomes "%XX" with upper-case hex. It is trivially reversible,
 * frees "." to be the Maildir++ separator, and keeps non-ASCII out of file names so
 * filesystems that re-normalise Unicode (HFS+) cannot change a name behind our back.
 */
function mustEscape(byte: number): boolean {
  return byte < 0x20 || byte > 0x7e || byte === 0x25 /* % */ || byte === 0x2e /* . */ || byte === 0x2f /* / */;
}

export function encodeNameComponent(component: string): string {
  let out = '';
  for (const byte of Buffer.from(component, 'utf8')) {
    out += mustEscape(byte) ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(byte);
  }
  return out;
}

// ignoreBOM: a name may begin with U+FEFF like any other character; by default the decoder would drop it.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Inverse of `encodeNameComponent`; `undefined` for anything it would not have produced. */
export function decodeNameComponent(encoded: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const c = encoded.charCodeAt(i);
    if (c === 0x25) {
      const hex = encoded.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      if (mustEscape(c)) return undefined;
      bytes.push(c);
    }
  }
  let text: string;
  try {
    text = UTF8.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
  // Only the canonical spelling is accepted, so no two directories mean the same mailbox.
  return encodeNameComponent(text) === encoded ? text : undefined;
}

/**
 * Checks a mailbox name and returns its canonical form: "INBOX" as the first component
 * is case-insensitive (RFC 3501 §5.1) and is always spelled "INBOX".
 */
export function normalizeMailboxName(input: unknown, field = 'mailbox'): MailboxName {
  if (typeof input !== 'string') throw new ValidationError(field, 'must be a string');
  if (input.length === 0) throw new ValidationError(field, 'must not be empty');
  if (input.length > MAX_MAILBOX_LENGTH) throw new ValidationError(field, `longer than ${MAX_MAILBOX_LENGTH} characters`);
  if (CONTROL_CHARS.test(input)) throw new ValidationError(field, 'must not contain control characters');
  if (!input.isWellFormed()) throw new ValidationError(field, 'is not well-formed Unicode');
  const parts = input.split(HIERARCHY_SEPARATOR);
  if (parts.some((p) => p.length === 0)) {
    throw new ValidationError(field, `must not start or end with "${HIERARCHY_SEPARATOR}" or contain "${HIERARCHY_SEPARATOR}${HIERARCHY_SEPARATOR}"`);
  }
  if (parts[0]!.toUpperCase() === INBOX) parts[0] = INBOX;
  const name = parts.join(HIERARCHY_SEPARATOR);
  if (name !== INBOX) folderDirNameOf(name, field); // fail early if it cannot be stored
  return name;
}

export function isInbox(name: MailboxName): boolean {
  return name === INBOX;
}

/** True when `name` is `ancestor` or lies below it in the hierarchy. */
export function isSameOrBelow(name: MailboxName, ancestor: MailboxName): boolean {
  return name === ancestor || name.startsWith(ancestor + HIERARCHY_SEPARATOR);
}

/** Maildir++ directory of a non-INBOX mailbox: "A/B" → ".A.B". */
export function folderDirNameOf(name: MailboxName, field = 'mailbox'): string {
  if (isInbox(name)) throw new ValidationError(field, 'INBOX has no folder directory');
  const dir = '.' + name.split(HIERARCHY_SEPARATOR).map(encodeNameComponent).join('.');
  if (Buffer.byteLength(dir) > MAX_DIR_NAME_BYTES) {
    throw new ValidationError(field, `too long once encoded for the filesystem (${MAX_DIR_NAME_BYTES} bytes)`);
  }
  return dir;
}

/**
 * The mailbox a directory entry of a user's Maildir stands for, or `undefined` when it is
 * not a folder this store could have written (`cur`, `.x..y`, `.INBOX`, bad escapes).
 */
export function mailboxOfFolderDirName(dirName: string): MailboxName | undefined {
  if (!dirName.startsWith('.') || dirName === '.' || dirName === '..') return undefined;
  const parts: string[] = [];
  for (const encoded of dirName.slice(1).split('.')) {
    if (encoded.length === 0) return undefined;
    const part = decodeNameComponent(encoded);
    if (part === undefined) return undefined;
    parts.push(part);
  }
  const raw = parts.join(HIERARCHY_SEPARATOR);
  let name: MailboxName;
  try {
    name = normalizeMailboxName(raw);
  } catch {
    return undefined;
  }
  if (isInbox(name) || folderDirNameOf(name) !== dirName) return undefined;
  return name;
}
