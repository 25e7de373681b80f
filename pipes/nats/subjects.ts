import { createHash } from 'node:crypto';
import { ALL_USERS, type Update } from '../../src/update/update.js';

/**
 * Subjects are `<prefix>.<user>.<mailbox>`. NATS tokens may not hold ".", "*", ">" or
 * white space, and long subjects cost on every message, so each name is escaped: letters,
 * digits, "_" and "-" stay, every other UTF-8 byte becomes "~XX". An escaped name over 96
 * characters becomes "~h" + a SHA-256 prefix (still one name → one token). "~" alone
 * stands for "no mailbox" and for the all-users resync; no escaped name can be "~".
 */
const MAX_TOKEN = 96;
export const NONE = '~';

const SAFE = /^[A-Za-z0-9_-]+$/;
/** Names repeat (a few users and mailboxes carry most traffic): remember recent tokens. */
const cache = new Map<string, string>();
const CACHE_MAX = 10_000;

export function encodeToken(name: string): string {
  if (SAFE.test(name) && name.length <= MAX_TOKEN) return name;
  let t = cache.get(name);
  if (t === undefined) {
    t = escapeToken(name);
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(name, t);
  }
  return t;
}

function escapeToken(name: string): string {
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(c) ? c : '~' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  if (out.length > MAX_TOKEN) out = '~h' + createHash('sha256').update(name).digest('hex').slice(0, 40);
  return out;
}

export function subjectFor(prefix: string, u: Update): string {
  const user = u.type === 'resync' && u.user === ALL_USERS ? NONE : encodeToken(u.user);
  const mailbox = 'mailbox' in u && u.mailbox !== undefined ? encodeToken(u.mailbox) : NONE;
  return `${prefix}.${user}.${mailbox}`;
}

/** Everything under the prefix. */
export const allSubjects = (prefix: string): string => `${prefix}.>`;
