import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { PipeError, ValidationError } from '../errors.js';
import { isUid, type Uid, type UidSet } from '../update/uid-set.js';
import type { Flag, MailboxName, UserName } from '../update/update.js';
import { removeLeftoverTempFiles } from './atomic-file.js';
import { deliverMessage, removeAbandonedDeliveries, type MessageContent } from './delivery.js';
import { flagsToLetters, foreignLettersToKeep, keywordsOf, lettersToFlags, normalizeFlags, unionFlags, withoutFlags } from './flag-codec.js';
import { readKeywordTable, writeKeywordTable, type KeywordTable } from './keywords.js';
import { DEFAULT_LOCK_OPTIONS, type HeldLock, type LockOptions } from './lock-file.js';
import { lockMailbox, noSuchMailbox, withMailboxLock } from './mailbox-lock.js';
import { HIERARCHY_SEPARATOR, INBOX, isInbox, isSameOrBelow, normalizeMailboxName } from './mailbox-name.js';
import { isMaildir, mailboxPaths, type MailboxPaths } from './mailbox-paths.js';
import { createFolderMailbox, deleteFolderMailbox, listFolderMailboxes, renameFolderMailboxes } from './mailbox-tree.js';
import { formatMaildirFilename, normalizeLetters } from './maildir-filename.js';
import { locateMessageFile, scanMessageFiles, type MessageFile } from './message-scan.js';
import { Subscriptions } from './subscriptions.js';
import { DELETED_LETTER } from './system-flags.js';
import { assignUid, readUidList, writeUidList, type UidList } from './uid-list.js';
import { allocateUidValidity } from './uid-validity.js';
import { validateUserName } from './user-name.js';

export interface MessageInfo {
  uid: Uid;
  flags: Flag[];
  size: number;
  internalDate: Date;
  /** Absolute path of the message file when it was read; it changes with its flags. */
  file: string;
}

export interface MailboxState {
  uidValidity: number;
  uidNext: number;
  /** Ascending by uid. */
  messages: MessageInfo[];
}

export interface AppendResult {
  uid: Uid;
  uidValidity: number;
}

export interface MaildirStoreOptions {
  lock?: Partial<LockOptions>;
}

/** Mail is private to the account the store runs as. */
const PRIVATE_DIR_MODE = 0o700;
/** Where an unreadable UID list is kept for inspection after the mailbox was renumbered. */
const CORRUPT_SUFFIX = '.corrupt';

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

function unknownUid(uid: Uid, mailbox: MailboxName): PipeError {
  return new PipeError('BAD_INPUT', `uid ${uid} does not exist in mailbox "${mailbox}"`);
}

function checkUid(uid: unknown): Uid {
  if (!isUid(uid)) throw new ValidationError('uid', 'must be an integer 1..4294967295');
  return uid;
}

async function unlinkIfPresent(file: string): Promise<void> {
  await unlink(file).catch((e: unknown) => {
    if (errnoOf(e) !== 'ENOENT') throw e;
  });
}

async function readRegularFile(file: string): Promise<Buffer> {
  // O_NOFOLLOW: a symlink swapped in for a message must not expose other files.
  const fh = await open(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  try {
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/**
 * Maildir++ storage shared by long-running servers and short-lived admin tools in other
 * processes. Each mailbox has a UID list guarded by a lock file; every change to it, and
 * every rename of a message file, happens under that lock, so concurrent writers neither
 * lose nor duplicate UIDs. See src/maildir/README.md for the on-disk format.
 */
export class MaildirStore {
  readonly root: string;
  private readonly lockOptions: LockOptions;

  constructor(root: string, options: MaildirStoreOptions = {}) {
    this.root = path.resolve(root);
    this.lockOptions = { ...DEFAULT_LOCK_OPTIONS, ...options.lock };
  }

  /** Creates the user's Maildir (its INBOX) if missing. Idempotent. */
  async ensureUser(user: UserName): Promise<void> {
    const dir = this.userDirOf(user);
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(dir, sub), { recursive: true, mode: PRIVATE_DIR_MODE });
  }

  /** "INBOX" first, then every other mailbox in code-point order. */
  async listMailboxes(user: UserName): Promise<MailboxName[]> {
    const userDir = await this.existingUserDir(user);
    return [INBOX, ...(await listFolderMailboxes(userDir)).sort()];
  }

  /**
   * Creates the mailbox and any missing superiors (`a/b/c` also makes `a` and `a/b`, as
   * RFC 3501 §6.3.3 advises), so every level can be listed, selected and renamed.
   */
  async createMailbox(user: UserName, mailbox: MailboxName): Promise<{ uidValidity: number }> {
    const name = normalizeMailboxName(mailbox);
    if (isInbox(name)) throw new PipeError('BAD_INPUT', 'mailbox "INBOX" already exists');
    const userDir = await this.existingUserDir(user);
    await this.createSuperiors(userDir, name);
    return createFolderMailbox(userDir, name, this.lockOptions, 'fail');
  }

  private async createSuperiors(userDir: string, name: MailboxName): Promise<void> {
    const parts = name.split(HIERARCHY_SEPARATOR);
    for (let i = 1; i < parts.length; i++) {
      const superior = parts.slice(0, i).join(HIERARCHY_SEPARATOR);
      if (!isInbox(superior)) await createFolderMailbox(userDir, superior, this.lockOptions, 'keep');
    }
  }

  /** Deletes one mailbox and its messages. Its children stay (Maildir++ folders are flat). */
  async deleteMailbox(user: UserName, mailbox: MailboxName): Promise<void> {
    const name = normalizeMailboxName(mailbox);
    if (isInbox(name)) throw new PipeError('BAD_INPUT', 'INBOX cannot be deleted');
    await deleteFolderMailbox(await this.existingUserDir(user), name, this.lockOptions);
  }

  /**
   * Renames a mailbox and every mailbox below it, keeping UIDVALIDITY and UIDs, creating
   * missing superiors of the new name. Renaming INBOX (which in IMAP moves its messages
   * and leaves it empty) is refused.
   */
  async renameMailbox(user: UserName, from: MailboxName, to: MailboxName): Promise<void> {
    const source = normalizeMailboxName(from, 'from');
    const target = normalizeMailboxName(to, 'to');
    if (isInbox(source)) throw new PipeError('BAD_INPUT', 'renaming INBOX is not supported');
    if (isInbox(target)) throw new PipeError('BAD_INPUT', 'mailbox "INBOX" already exists');
    if (isSameOrBelow(target, source)) throw new PipeError('BAD_INPUT', `cannot rename "${source}" to itself or below itself`);
    const userDir = await this.existingUserDir(user);
    // Superiors of the new name are made as for CREATE (RFC 3501 §6.3.5), but only once the
    // source is known to exist, so a failed RENAME leaves nothing behind.
    if (!(await isMaildir(mailboxPaths(userDir, source).dir))) throw noSuchMailbox(source);
    await this.createSuperiors(userDir, target);
    await renameFolderMailboxes(userDir, source, target, this.lockOptions);
  }

  /**
   * Brings the UID list in line with the directories: files without a UID (delivered by
   * another agent, or by an append that crashed before numbering) get the next UIDs in
   * file-name order; entries whose file is gone are dropped as expunged.
   */
  async sync(user: UserName, mailbox: MailboxName): Promise<MailboxState> {
    const paths = await this.openMailbox(user, mailbox);
    return withMailboxLock(paths, this.lockOptions, async () => {
      // Holding the lock, no writer can be using these, so any left are from a crash.
      await Promise.all([removeLeftoverTempFiles(paths.uidList), removeLeftoverTempFiles(paths.keywords), removeAbandonedDeliveries(paths)]);
      const list = await this.loadUidList(paths);
      const table = await readKeywordTable(paths.keywords);
      const files = await scanMessageFiles(paths);
      if (list.entries.some((e) => !files.has(e.basename))) {
        // Agents that do not take our lock may rename a file mid-scan; look again before
        // declaring anything expunged, since a wrong call would renumber the message.
        for (const [basename, file] of await scanMessageFiles(paths)) if (!files.has(basename)) files.set(basename, file);
      }
      const kept = list.entries.filter((e) => files.has(e.basename));
      const known = new Set(kept.map((e) => e.basename));
      const unnumbered = [...files.keys()].filter((b) => !known.has(b)).sort();
      if (kept.length !== list.entries.length || unnumbered.length > 0) {
        list.entries = kept;
        for (const basename of unnumbered) assignUid(list, basename);
        await writeUidList(paths.uidList, list);
      }
      const messages = await Promise.all(list.entries.map((e) => this.describe(e.uid, files.get(e.basename)!, table)));
      return {
        uidValidity: list.uidValidity,
        uidNext: list.uidNext,
        messages: messages.filter((m): m is MessageInfo => m !== undefined),
      };
    });
  }

  /**
   * Delivers a message and numbers it. If the lock cannot be taken afterwards the file is
   * removed again (best effort), so an error means the message was not added.
   */
  async append(user: UserName, mailbox: MailboxName, content: MessageContent, flags?: Flag[], internalDate?: Date): Promise<AppendResult> {
    const wanted = normalizeFlags(flags ?? []);
    if (internalDate !== undefined && !(internalDate instanceof Date && Number.isFinite(internalDate.getTime()))) {
      throw new ValidationError('internalDate', 'must be a valid Date');
    }
    const paths = await this.openMailbox(user, mailbox);
    const table = await this.keywordTableFor(paths, keywordsOf(wanted));
    const delivered = await deliverMessage(paths, content, flagsToLetters(wanted, table), internalDate);
    let lock: HeldLock;
    try {
      lock = await lockMailbox(paths, this.lockOptions);
    } catch (e) {
      await unlink(delivered.path).catch(() => undefined);
      throw e;
    }
    try {
      const list = await this.loadUidList(paths);
      // A sync in another process may have numbered it between delivery and our lock.
      const already = list.entries.find((e) => e.basename === delivered.basename);
      if (already) return { uid: already.uid, uidValidity: list.uidValidity };
      const uid = assignUid(list, delivered.basename);
      await writeUidList(paths.uidList, list);
      return { uid, uidValidity: list.uidValidity };
    } finally {
      await lock.release();
    }
  }

  /** Replaces the message's flags; returns the set now stored. */
  async setFlags(user: UserName, mailbox: MailboxName, uid: Uid, flags: Flag[]): Promise<Flag[]> {
    const wanted = normalizeFlags(flags);
    return this.changeFlags(user, mailbox, uid, () => wanted);
  }

  async addFlags(user: UserName, mailbox: MailboxName, uid: Uid, flags: Flag[]): Promise<Flag[]> {
    const added = normalizeFlags(flags);
    return this.changeFlags(user, mailbox, uid, (current) => unionFlags(current, added));
  }

  async removeFlags(user: UserName, mailbox: MailboxName, uid: Uid, flags: Flag[]): Promise<Flag[]> {
    const removed = normalizeFlags(flags);
    return this.changeFlags(user, mailbox, uid, (current) => withoutFlags(current, removed));
  }

  /** Removes the listed messages that exist; returns their UIDs in ascending order. */
  async expunge(user: UserName, mailbox: MailboxName, uids: UidSet): Promise<Uid[]> {
    const paths = await this.openMailbox(user, mailbox);
    return withMailboxLock(paths, this.lockOptions, async () => {
      const list = await this.loadUidList(paths);
      const doomed = list.entries.filter((e) => uids.has(e.uid));
      if (doomed.length === 0) return [];
      return this.removeEntries(paths, list, doomed, await scanMessageFiles(paths));
    });
  }

  /** IMAP EXPUNGE: removes every message flagged \Deleted. */
  async expungeDeleted(user: UserName, mailbox: MailboxName): Promise<Uid[]> {
    const paths = await this.openMailbox(user, mailbox);
    return withMailboxLock(paths, this.lockOptions, async () => {
      const list = await this.loadUidList(paths);
      const files = await scanMessageFiles(paths);
      const doomed = list.entries.filter((e) => files.get(e.basename)?.letters.includes(DELETED_LETTER));
      if (doomed.length === 0) return [];
      return this.removeEntries(paths, list, doomed, files);
    });
  }

  /** Lock-free: the UID list is replaced atomically and a file moved meanwhile is looked up again. */
  async readMessage(user: UserName, mailbox: MailboxName, uid: Uid): Promise<Buffer> {
    checkUid(uid);
    const paths = await this.openMailbox(user, mailbox);
    const read = await readUidList(paths.uidList);
    const entry = read.kind === 'ok' ? read.list.entries.find((e) => e.uid === uid) : undefined;
    if (!entry) throw unknownUid(uid, paths.name);
    for (let attempt = 0; attempt < 3; attempt++) {
      const file = await locateMessageFile(paths, entry.basename);
      if (!file) break;
      try {
        return await readRegularFile(file.path);
      } catch (e) {
        if (errnoOf(e) !== 'ENOENT') throw e; // renamed by a flag change: look again
      }
    }
    throw unknownUid(uid, paths.name);
  }

  /**
   * `readMessage` for a message a `sync` just described: its file is read directly, and
   * looked up again only if a flag change has renamed it since. Saves a directory listing
   * per message when a command reads many.
   */
  async readMessageOf(user: UserName, mailbox: MailboxName, info: MessageInfo): Promise<Buffer> {
    try {
      return await readRegularFile(info.file);
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') throw e;
    }
    return this.readMessage(user, mailbox, info.uid);
  }

  /** The user's IMAP subscriptions (see subscriptions.ts). */
  async subscriptions(user: UserName): Promise<Subscriptions> {
    return new Subscriptions(await this.existingUserDir(user), this.lockOptions);
  }

  /** Every keyword the mailbox has a letter for, in the order they were first used. */
  async listKeywords(user: UserName, mailbox: MailboxName): Promise<Flag[]> {
    return (await readKeywordTable((await this.openMailbox(user, mailbox)).keywords)).keywords();
  }

  // ---- internals ----

  private userDirOf(user: UserName): string {
    return path.join(this.root, validateUserName(user));
  }

  private async existingUserDir(user: UserName): Promise<string> {
    const dir = this.userDirOf(user);
    if (!(await isMaildir(dir))) throw new PipeError('BAD_INPUT', `user "${user}" does not exist (ensureUser creates it)`);
    return dir;
  }

  private async openMailbox(user: UserName, mailbox: MailboxName): Promise<MailboxPaths> {
    const name = normalizeMailboxName(mailbox);
    const paths = mailboxPaths(await this.existingUserDir(user), name);
    if (!(await isMaildir(paths.dir))) throw noSuchMailbox(name);
    return paths;
  }

  /**
   * The UID list, created if missing. An unreadable one is set aside and replaced by an
   * empty list with a new UIDVALIDITY: its UIDs cannot be trusted, and the new
   * UIDVALIDITY tells clients to drop what they cached. The next sync renumbers the files.
   */
  private async loadUidList(paths: MailboxPaths): Promise<UidList> {
    const read = await readUidList(paths.uidList);
    if (read.kind === 'ok') return read.list;
    if (read.kind === 'corrupt') await rename(paths.uidList, paths.uidList + CORRUPT_SUFFIX).catch(() => undefined);
    const list: UidList = { uidValidity: await allocateUidValidity(paths.userDir, this.lockOptions), uidNext: 1, entries: [] };
    await writeUidList(paths.uidList, list);
    return list;
  }

  /** A keyword table with letters for `keywords`, extending the stored one if needed. */
  private async keywordTableFor(paths: MailboxPaths, keywords: readonly Flag[]): Promise<KeywordTable> {
    const table = await readKeywordTable(paths.keywords);
    if (table.covers(keywords)) return table; // mappings never change, so no lock needed
    return withMailboxLock(paths, this.lockOptions, () => this.extendKeywordTable(paths, keywords));
  }

  /** Caller holds the mailbox lock. */
  private async extendKeywordTable(paths: MailboxPaths, keywords: readonly Flag[]): Promise<KeywordTable> {
    const table = await readKeywordTable(paths.keywords);
    if (table.covers(keywords)) return table;
    const extended = table.withKeywords(keywords);
    await writeKeywordTable(paths.keywords, extended);
    return extended;
  }

  private async changeFlags(user: UserName, mailbox: MailboxName, uid: Uid, change: (current: Flag[]) => Flag[]): Promise<Flag[]> {
    checkUid(uid);
    const paths = await this.openMailbox(user, mailbox);
    return withMailboxLock(paths, this.lockOptions, async () => {
      const list = await this.loadUidList(paths);
      const entry = list.entries.find((e) => e.uid === uid);
      const file = entry && (await locateMessageFile(paths, entry.basename));
      if (!file) throw unknownUid(uid, paths.name);
      const next = change(lettersToFlags(file.letters, await readKeywordTable(paths.keywords)));
      const table = await this.extendKeywordTable(paths, keywordsOf(next));
      const letters = normalizeLetters(flagsToLetters(next, table) + foreignLettersToKeep(file.letters));
      if (letters !== file.letters) {
        // Same basename, so the UID list stays valid; leaving new/ marks it as seen by a client.
        await rename(file.path, path.join(paths.cur, formatMaildirFilename(file.basename, letters)));
      }
      return lettersToFlags(letters, table);
    });
  }

  private async removeEntries(paths: MailboxPaths, list: UidList, doomed: UidList['entries'], files: Map<string, MessageFile>): Promise<Uid[]> {
    // Files first: a crash before the list is written leaves entries without files, which
    // sync drops. The other order would leave files without UIDs, which sync would revive.
    for (const e of doomed) {
      const file = files.get(e.basename);
      if (file) await unlinkIfPresent(file.path);
    }
    const gone = new Set(doomed.map((e) => e.uid));
    list.entries = list.entries.filter((e) => !gone.has(e.uid));
    await writeUidList(paths.uidList, list);
    return doomed.map((e) => e.uid);
  }

  private async describe(uid: Uid, file: MessageFile, table: KeywordTable): Promise<MessageInfo | undefined> {
    const s = await lstat(file.path).catch(() => undefined);
    // Gone since the scan (an agent outside our lock): left out now, dropped by the next sync.
    if (!s?.isFile()) return undefined;
    return { uid, flags: lettersToFlags(file.letters, table), size: s.size, internalDate: s.mtime, file: file.path };
  }
}
