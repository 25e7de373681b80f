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

/**
 * The last subject built, for the same names: a burst of pushes names one mailbox over and
 * over, and a batch is cut where the subject changes (subject-batch.ts), which the same
 * string object tells at once. The NATS pusher is what limits core 1→1 (its profile: busy
 * 921 ms of a 957 ms round, the listener 894 of 1,290); with this and the batch copy in
 * subject-batch.ts, four alternating runs: 259/281/211/201k → 282/298/223/275k updates/s.
 */
let last = { prefix: '', user: '', mailbox: undefined as string | undefined, subject: '' };

export function subjectFor(prefix: string, u: Update): string {
  const mailbox = 'mailbox' in u ? u.mailbox : undefined;
  if (u.type === 'resync' && u.user === ALL_USERS) return `${prefix}.${NONE}.${mailbox !== undefined ? encodeToken(mailbox) : NONE}`;
  if (last.subject !== '' && u.user === last.user && mailbox === last.mailbox && prefix === last.prefix) return last.subject;
  const subject = `${prefix}.${encodeToken(u.user)}.${mailbox !== undefined ? encodeToken(mailbox) : NONE}`;
  last = { prefix, user: u.user, mailbox, subject };
  return subject;
}

/** Everything under the prefix. */
export const allSubjects = (prefix: string): string => `${prefix}.>`;
