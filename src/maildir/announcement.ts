import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { MailboxName, Update, UserName } from '../update/update.js';
import { HOST, parseHolder, processIsGone } from './lock-file.js';
import { randomBytes } from '../random-bytes.js';
import { unlinkQuietly } from './unlink-quietly.js';

/**
 * Changes that other tools made to the Maildir, found by a scan and now recorded in the
 * store (so no later scan finds them again): whoever scanned must announce them.
 *
 * Between recording and announcing, an in-flight marker names the scope in
 * `<root>/.updatepipe-announcing/`. A process that dies in that window leaves its marker
 * behind; the elected watcher finds it and pushes a `resync` for the scope instead, since
 * it cannot know what was told. So a change is announced once, or covered by a resync.
 */
export interface Announcement {
  readonly user: UserName;
  /** Undefined: the change is to the user's set of mailboxes. */
  readonly mailbox: MailboxName | undefined;
  readonly updates: readonly Update[];
  /** Call once the updates are pushed (or nobody needs them): the marker goes. */
  done(): Promise<void>;
}

/** Inside the tree root; the leading dot keeps it from ever being a user's Maildir. */
export const ANNOUNCING_DIR = '.updatepipe-announcing';

export function nothingToAnnounce(user: UserName, mailbox: MailboxName | undefined): Announcement {
  return { user, mailbox, updates: [], done: async () => {} };
}

/**
 * Writes the marker (before the caller records the changes) and returns the
 * announcement. No fsync: the marker only has to outlive a process, not the machine;
 * after a machine crash every server reads storage afresh anyway.
 */
export async function beginAnnouncement(root: string, user: UserName, mailbox: MailboxName | undefined, updates: readonly Update[]): Promise<Announcement> {
  if (updates.length === 0) return nothingToAnnounce(user, mailbox);
  // Synchronous, as the store's other small files (see atomic-file.ts): it is on the path
  // from a delivery to its announcement.
  const dir = path.join(root, ANNOUNCING_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const token = randomBytes(8).toString('hex');
  const file = path.join(dir, `${process.pid}-${token}`);
  const fd = openSync(file, 'wx', 0o600);
  try {
    writeSync(fd, `${process.pid} ${HOST} ${token}\n${user}\n${mailbox ?? ''}\n`);
  } finally {
    closeSync(fd);
  }
  let finished = false;
  return {
    user,
    mailbox,
    updates,
    async done(): Promise<void> {
      if (finished) return;
      finished = true;
      unlinkQuietly(file);
    },
  };
}

/** What a dead announcer left: its scope must be resynced, then `clear()`. */
export interface StaleAnnouncement {
  user: UserName;
  mailbox: MailboxName | undefined;
  clear(): Promise<void>;
}

export interface StaleRules {
  /** A marker older than this counts as stale even if its process lives (its push hung). */
  maxAgeMs: number;
}

export const DEFAULT_STALE_RULES: StaleRules = { maxAgeMs: 60_000 };

/** A marker whose content never got written: its writer died before recording anything. */
const UNWRITTEN_GRACE_MS = 5_000;

/**
 * Markers whose process died (on this host), or that are older than `maxAgeMs`.
 * Markers without readable content are debris of a writer that died before recording
 * anything; they are removed without a resync.
 */
export async function findStaleAnnouncements(root: string, rules: StaleRules = DEFAULT_STALE_RULES): Promise<StaleAnnouncement[]> {
  const dir = path.join(root, ANNOUNCING_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: StaleAnnouncement[] = [];
  const now = Date.now();
  for (const name of names) {
    const file = path.join(dir, name);
    const [text, s] = await Promise.all([readFile(file, 'utf8').catch(() => undefined), stat(file).catch(() => undefined)]);
    if (text === undefined || s === undefined) continue; // finished meanwhile
    const [first, user, mailbox] = text.split('\n');
    const holder = parseHolder(`${first ?? ''}\n`);
    const age = now - s.mtimeMs;
    if (holder === undefined || user === undefined || user === '' || mailbox === undefined) {
      if (age > UNWRITTEN_GRACE_MS) unlinkQuietly(file);
      continue;
    }
    const dead = holder.host === HOST && holder.pid !== process.pid && processIsGone(holder.pid);
    if (!dead && age <= rules.maxAgeMs) continue;
    out.push({ user, mailbox: mailbox === '' ? undefined : mailbox, clear: async () => unlinkQuietly(file) });
  }
  return out;
}
