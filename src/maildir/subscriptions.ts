import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PipeError } from '../errors.js';
import type { MailboxName } from '../update/update.js';
import { writeFileAtomic } from './atomic-file.js';
import { withLock, type LockOptions } from './lock-file.js';
import { HIERARCHY_SEPARATOR, normalizeMailboxName } from './mailbox-name.js';

/** Where Dovecot keeps them too: `<user's Maildir>/subscriptions`. */
export const SUBSCRIPTIONS_FILE = 'subscriptions';
const HEADER = 'V\t2\n\n';
const MAX_SUBSCRIPTIONS = 100_000;

/**
 * Parses Dovecot's format: a `V\t2` line and an empty line, then one mailbox per line with
 * a tab between hierarchy levels (names here are UTF-8). Lenient: a file without the header
 * (Dovecot 1.x) is read as plain lines, and lines that are no valid mailbox name are skipped.
 */
export function parseSubscriptions(text: string): MailboxName[] {
  let body = text;
  let separator = HIERARCHY_SEPARATOR;
  if (body.startsWith('V\t')) {
    const end = body.indexOf('\n\n');
    body = end < 0 ? '' : body.slice(end + 2);
    separator = '\t';
  }
  const seen = new Set<string>();
  const out: MailboxName[] = [];
  for (const line of body.split('\n')) {
    if (line === '' || out.length >= MAX_SUBSCRIPTIONS) continue;
    let name: MailboxName;
    try {
      name = normalizeMailboxName(line.split(separator).join(HIERARCHY_SEPARATOR));
    } catch {
      continue;
    }
    if (!seen.has(name)) {
      seen.add(name);
      out.push(name);
    }
  }
  return out;
}

export function formatSubscriptions(names: readonly MailboxName[]): string {
  return HEADER + names.map((n) => n.split(HIERARCHY_SEPARATOR).join('\t') + '\n').join('');
}

// ignoreBOM: every line is a name, and a name may begin with U+FEFF (the default would drop it).
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Lines that are not valid UTF-8 are dropped here, before they could turn into U+FFFD names. */
function decodeLines(data: Buffer): string {
  const out: string[] = [];
  for (const line of data.toString('latin1').split('\n')) {
    try {
      out.push(UTF8.decode(Buffer.from(line, 'latin1')));
    } catch {
      // not a name this store wrote
    }
  }
  return out.join('\n');
}

async function readList(file: string): Promise<MailboxName[]> {
  try {
    return parseSubscriptions(decodeLines(await readFile(file)));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * A user's IMAP subscriptions (RFC 9051 §6.3.7): just names, which need not exist (a
 * mailbox deleted or renamed stays subscribed, as in Dovecot). Read without a lock (the file
 * is only ever replaced whole); changed under `subscriptions.lock`, a leaf lock: nothing
 * else is locked while it is held.
 */
export class Subscriptions {
  private readonly file: string;

  constructor(
    userDir: string,
    private readonly lockOptions: LockOptions,
  ) {
    this.file = path.join(userDir, SUBSCRIPTIONS_FILE);
  }

  list(): Promise<MailboxName[]> {
    return readList(this.file);
  }

  /** Returns false when it was subscribed already. */
  async subscribe(mailbox: MailboxName): Promise<boolean> {
    const name = normalizeMailboxName(mailbox);
    return this.change((names) => {
      if (names.includes(name)) return null;
      if (names.length >= MAX_SUBSCRIPTIONS) throw new PipeError('BAD_INPUT', `cannot subscribe to more than ${MAX_SUBSCRIPTIONS} mailboxes`);
      return [...names, name];
    });
  }

  /** Returns false when it was not subscribed. */
  async unsubscribe(mailbox: MailboxName): Promise<boolean> {
    const name = normalizeMailboxName(mailbox);
    return this.change((names) => (names.includes(name) ? names.filter((n) => n !== name) : null));
  }

  private change(next: (names: MailboxName[]) => MailboxName[] | null): Promise<boolean> {
    return withLock(`${this.file}.lock`, this.lockOptions, async () => {
      const names = next(await readList(this.file));
      if (names === null) return false;
      await writeFileAtomic(this.file, formatSubscriptions(names));
      return true;
    });
  }
}
