import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync } from 'node:fs';
import { lstat, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { PipeError, ValidationError } from '../errors.js';
import { isUid, type Uid, type UidSet } from '../update/uid-set.js';
import { validateUpdate, type Flag, type MailboxName, type Update, type UserName } from '../update/update.js';
import { beginAnnouncement, nothingToAnnounce, type Announcement } from './announcement.js';
import { removeLeftoverTempFiles } from './atomic-file.js';
import { discardStaged, placeMessage, removeAbandonedDeliveries, stageMessage, type MessageContent } from './delivery.js';
import { flagsToLetters, foreignLettersToKeep, keywordsOf, lettersToFlags, normalizeFlags, unionFlags, withoutFlags } from './flag-codec.js';
import { readKeywordTable, writeKeywordTable, type KeywordTable } from './keywords.js';
import { DEFAULT_LOCK_OPTIONS, type HeldLock, type LockOptions } from './lock-file.js';
import { lockMailbox, noSuchMailbox, withMailboxLock } from './mailbox-lock.js';
import { HIERARCHY_SEPARATOR, INBOX, isInbox, isSameOrBelow, normalizeMailboxName } from './mailbox-name.js';
import { isMaildir, mailboxPaths, SCAN_MARK_FILE, type MailboxPaths } from './mailbox-paths.js';
import { createFolderMailbox, deleteFolderMailbox, listFolderMailboxes, reconcileFolders, renameFolderMailboxes, type FolderChanges } from './mailbox-tree.js';
import { formatMaildirFilename, normalizeLetters } from './maildir-filename.js';
import { locateMessageFile, scanMessageFiles, type OddFile, type MessageFile } from './message-scan.js';
import { Subscriptions } from './subscriptions.js';
import { DELETED_LETTER } from './system-flags.js';
import { reconcile, type Reconciled } from './reconcile.js';
import { assignUid, emptyUidList, expungedSince, nextModseq, readUidList, recordExpunge, writeUidList, type UidList } from './uid-list.js';
import { allocateUidValidity } from './uid-validity.js';
import { validateUserName } from './user-name.js';

export interface MessageInfo {
  uid: Uid;
  flags: Flag[];
  size: number;
  internalDate: Date;
  /** Absolute path of the message file when it was read; it changes with its flags. */
  file: string;
  /** The mailbox modseq of the message's last change (RFC 7162 MODSEQ). */
  modseq: number;
}

export interface MailboxState {
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  /** Ascending by uid. */
  messages: MessageInfo[];
}

export interface AppendResult {
  uid: Uid;
  uidValidity: number;
  modseq: number;
}

/** One message's flags after `storeFlags`. */
export interface FlagChange {
  uid: Uid;
  flags: Flag[];
  modseq: number;
  /** False when the message already had exactly these flags, as announced (no new modseq). */
  changed: boolean;
  /** UNCHANGEDSINCE refused it (its modseq was higher): nothing was stored (RFC 7162 §3.1.3). */
  modified?: true;
}

export type FlagMode = 'set' | 'add' | 'remove';

/** What an expunge removed (ascending) and the modseq it took (none when nothing went). */
export interface Expunged {
  uids: Uid[];
  modseq: number | undefined;
}

const nothingExpunged = (): Expunged => ({ uids: [], modseq: undefined });

export interface MaildirStoreOptions {
  lock?: Partial<LockOptions>;
  /**
   * Receives what a `sync` found other tools had done (delivered into new/, renamed,
   * deleted): push the updates, then call `done()`. Without it the changes are still
   * recorded, and the in-flight marker left behind makes the elected watcher push a
   * `resync` for them once this process is gone or a minute has passed.
   */
  announce?: (a: Announcement) => void;
}

/** Mail is private to the account the store runs as. */
const PRIVATE_DIR_MODE = 0o700;
const CLEANUP_EVERY_MS = 60_000;
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

/** What a watcher's scan found: the announcement, and odd files (to log and count). */
export interface Discovery {
  announcement: Announcement;
  odd: OddFile[];
}

/** A mailbox read under its lock: the list as recorded now, and the files seen. */
interface LockedScan {
  list: UidList;
  files: Map<string, MessageFile>;
  table: KeywordTable;
}

/**
 * Maildir++ storage shared by long-running servers and short-lived admin tools in other
 * processes. Each mailbox has a UID list guarded by a lock file; every change to it, and
 * every rename of a message file, happens under that lock, so concurrent writers neither
 * lose nor duplicate UIDs. The list also records each message's flags and modseq as last
 * announced, so a scan can tell what other tools changed from what this store's callers
 * changed and announced themselves. See src/maildir/README.md for the on-disk format.
 */
export class MaildirStore {
  readonly root: string;
  private readonly lockOptions: LockOptions;
  private readonly announceHook: ((a: Announcement) => void) | undefined;
  /** Mailbox directories swept for crash debris, and when. */
  private readonly swept = new Map<string, number>();

  constructor(root: string, options: MaildirStoreOptions = {}) {
    this.root = path.resolve(root);
    this.lockOptions = { ...DEFAULT_LOCK_OPTIONS, ...options.lock };
    this.announceHook = options.announce;
  }

  /** Creates the user's Maildir (its INBOX) if missing. Idempotent. */
  async ensureUser(user: UserName): Promise<void> {
    const dir = this.userDirOf(user);
    // Synchronous, like the store's other metadata calls (see atomic-file.ts): on every `mail add`.
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(path.join(dir, sub), { recursive: true, mode: PRIVATE_DIR_MODE });
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
   * The mailbox as it is now. Files another tool added get UIDs (in file-name order),
   * entries whose file is gone are dropped as expunged, renamed files' flags are taken
   * over; those changes go to the `announce` option (see there).
   */
  async sync(user: UserName, mailbox: MailboxName): Promise<MailboxState> {
    const paths = await this.openMailbox(user, mailbox);
    const { scan, announcement, messages } = await this.discoverLocked(user, paths, [], true);
    if (announcement.updates.length > 0) this.announceHook?.(announcement);
    return { uidValidity: scan.list.uidValidity, uidNext: scan.list.uidNext, highestModseq: scan.list.highestModseq, messages };
  }

  /**
   * What other tools changed in the mailbox since the store last recorded it, now
   * recorded: the watcher's scan. The caller pushes `updates`, then calls `done()`.
   */
  async discover(user: UserName, mailbox: MailboxName): Promise<Discovery> {
    const paths = await this.openMailbox(user, mailbox);
    const odd: OddFile[] = [];
    return { announcement: (await this.discoverLocked(user, paths, odd, false)).announcement, odd };
  }

  /** Folders other tools made, removed or replaced since the store last recorded the user's folders. */
  async discoverFolders(user: UserName): Promise<Announcement> {
    const userDir = await this.existingUserDir(user);
    const found = await reconcileFolders(userDir, this.lockOptions, (changes) => beginAnnouncement(this.root, user, undefined, folderUpdates(user, changes)));
    return found ?? nothingToAnnounce(user, undefined);
  }

  /**
   * Delivers a message and numbers it. The file gets its final name only under the lock,
   * right before it is numbered, so no scan ever sees it unnumbered and announces it as
   * another tool's delivery. An error means the message was not added.
   */
  async append(user: UserName, mailbox: MailboxName, content: MessageContent, flags?: Flag[], internalDate?: Date): Promise<AppendResult> {
    const wanted = normalizeFlags(flags ?? []);
    if (internalDate !== undefined && !(internalDate instanceof Date && Number.isFinite(internalDate.getTime()))) {
      throw new ValidationError('internalDate', 'must be a valid Date');
    }
    const paths = await this.openMailbox(user, mailbox);
    const table = await this.keywordTableFor(paths, keywordsOf(wanted));
    const letters = flagsToLetters(wanted, table);
    const staged = await stageMessage(paths, content, internalDate);
    let lock: HeldLock;
    try {
      lock = await lockMailbox(paths, this.lockOptions);
    } catch (e) {
      await discardStaged(staged);
      throw e;
    }
    try {
      let list: UidList;
      try {
        list = await this.loadUidList(paths);
      } catch (e) {
        await discardStaged(staged);
        throw e;
      }
      const modseq = nextModseq(list);
      const uid = assignUid(list, staged.basename, letters, modseq);
      // The list's temp file is written and fsynced while the message's own fsync runs:
      // both are new files, whose fsyncs wait for a journal commit (3.6–6 ms each in the
      // `mail add` timelines, against ~1 ms for a directory), and one commit can serve
      // both. Before, the list's waited for the message's. Its rename still waits until
      // the message has its final name, and that name is durable: a crash in between
      // leaves a file without a UID, which the next scan numbers and announces, never a
      // UID whose file is gone (an expunge of a message nobody saw).
      const placed = placeMessage(paths, staged, letters);
      const named = placed.then((p) => p.durable);
      named.catch(() => undefined); // awaited by writeUidList; not unhandled if it fails first
      try {
        await writeUidList(paths.uidList, list, named);
      } catch (e) {
        const p = await placed.catch(() => undefined);
        if (p) {
          await p.durable;
          await unlink(p.path).catch(() => undefined);
        }
        throw e;
      }
      return { uid, uidValidity: list.uidValidity, modseq };
    } finally {
      await lock.release();
    }
  }

  /** Replaces the message's flags; returns the set now stored. */
  async setFlags(user: UserName, mailbox: MailboxName, uid: Uid, flags: Flag[]): Promise<Flag[]> {
    return this.flagsOfOne(user, mailbox, uid, 'set', flags);
  }

  async addFlags(user: UserName, mailbox: MailboxName, uid: Uid, flags: Flag[]): Promise<Flag[]> {
    return this.flagsOfOne(user, mailbox, uid, 'add', flags);
  }

  async removeFlags(user: UserName, mailbox: MailboxName, uid: Uid, flags: Flag[]): Promise<Flag[]> {
    return this.flagsOfOne(user, mailbox, uid, 'remove', flags);
  }

  /**
   * STORE on many messages under one lock and one UID list write. Messages that do not
   * exist are left out of the result. Each changed message takes the same new modseq
   * (one STORE, one transaction); unchanged ones keep theirs. `unchangedSince`: messages
   * changed after that modseq are left alone and marked `modified` (the check and the
   * change under one lock, so no change slips between them).
   */
  async storeFlags(user: UserName, mailbox: MailboxName, uids: readonly Uid[], mode: FlagMode, flags: Flag[], options: { unchangedSince?: number } = {}): Promise<FlagChange[]> {
    uids.forEach(checkUid);
    const given = normalizeFlags(flags);
    const change = mode === 'set' ? () => given : mode === 'add' ? (c: Flag[]) => unionFlags(c, given) : (c: Flag[]) => withoutFlags(c, given);
    const paths = await this.openMailbox(user, mailbox);
    return withMailboxLock(paths, this.lockOptions, async () => {
      const list = await this.loadUidList(paths);
      const byUid = new Map(list.entries.map((e) => [e.uid, e]));
      const files = await scanMessageFiles(paths);
      const before = await readKeywordTable(paths.keywords);
      const targets = [...new Set(uids)].sort((a, b) => a - b).flatMap((uid) => {
        const entry = byUid.get(uid);
        const file = entry && files.get(entry.basename);
        return entry && file ? [{ entry, file, next: change(lettersToFlags(file.letters, before)) }] : [];
      });
      const table = await this.extendKeywordTable(paths, targets.flatMap((t) => keywordsOf(t.next)));
      let modseq: number | undefined;
      const out: FlagChange[] = [];
      for (const { entry, file, next } of targets) {
        if (options.unchangedSince !== undefined && entry.modseq > options.unchangedSince) {
          out.push({ uid: entry.uid, flags: lettersToFlags(file.letters, before), modseq: entry.modseq, changed: false, modified: true });
          continue;
        }
        const letters = normalizeLetters(flagsToLetters(next, table) + foreignLettersToKeep(file.letters));
        // Same basename, so the entry stays valid; leaving new/ marks it as seen by a client.
        if (letters !== file.letters) await rename(file.path, path.join(paths.cur, formatMaildirFilename(file.basename, letters)));
        // Also a change when another tool's rename already made the file what was asked,
        // unannounced: the caller's announcement now covers it.
        const changed = letters !== entry.letters;
        if (changed) {
          entry.modseq = modseq ??= nextModseq(list);
          entry.letters = letters;
        }
        out.push({ uid: entry.uid, flags: lettersToFlags(letters, table), modseq: entry.modseq, changed });
      }
      if (modseq !== undefined) await writeUidList(paths.uidList, list);
      return out;
    });
  }

  /** Removes the listed messages that exist: their UIDs in ascending order, and the modseq taken. */
  async expunge(user: UserName, mailbox: MailboxName, uids: UidSet): Promise<Expunged> {
    const paths = await this.openMailbox(user, mailbox);
    return withMailboxLock(paths, this.lockOptions, async () => {
      const list = await this.loadUidList(paths);
      const doomed = list.entries.filter((e) => uids.has(e.uid));
      if (doomed.length === 0) return nothingExpunged();
      return this.removeEntries(paths, list, doomed, await scanMessageFiles(paths));
    });
  }

  /** IMAP EXPUNGE: removes every message flagged \Deleted (of `only`, when given: UID EXPUNGE). */
  async expungeDeleted(user: UserName, mailbox: MailboxName, only?: UidSet): Promise<Expunged> {
    const paths = await this.openMailbox(user, mailbox);
    return withMailboxLock(paths, this.lockOptions, async () => {
      const list = await this.loadUidList(paths);
      const files = await scanMessageFiles(paths);
      const doomed = list.entries.filter((e) => (only === undefined || only.has(e.uid)) && files.get(e.basename)?.letters.includes(DELETED_LETTER));
      if (doomed.length === 0) return nothingExpunged();
      return this.removeEntries(paths, list, doomed, files);
    });
  }

  /**
   * For QRESYNC: the UIDs expunged after `modseq`, or null when the mailbox no longer
   * remembers that far back (see `MAX_EXPUNGE_RECORDS`). Lock-free, like `readMessage`.
   */
  async expungedSince(user: UserName, mailbox: MailboxName, modseq: number): Promise<Uid[] | null> {
    const paths = await this.openMailbox(user, mailbox);
    const read = await readUidList(paths.uidList);
    return read.kind === 'ok' ? expungedSince(read.list, modseq) : null;
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
    // lstat: a user directory that is a symbolic link would lead out of the tree.
    const s = lstatSync(dir, { throwIfNoEntry: false });
    if (!s?.isDirectory() || !(await isMaildir(dir))) throw new PipeError('BAD_INPUT', `user "${user}" does not exist (ensureUser creates it)`);
    return dir;
  }

  private async openMailbox(user: UserName, mailbox: MailboxName): Promise<MailboxPaths> {
    const name = normalizeMailboxName(mailbox);
    const paths = mailboxPaths(await this.existingUserDir(user), name);
    if (!(await isMaildir(paths.dir))) throw noSuchMailbox(name);
    return paths;
  }

  /**
   * Under the mailbox lock: the files as they are, reconciled with the list, the changes
   * recorded, and an announcement of them (its in-flight marker written before the list).
   */
  private async discoverLocked(
    user: UserName,
    paths: MailboxPaths,
    odd: OddFile[],
    describe: boolean,
  ): Promise<{ scan: LockedScan; announcement: Announcement; messages: MessageInfo[] }> {
    return withMailboxLock(paths, this.lockOptions, async () => {
      await this.cleanUpAfterCrashes(paths);
      const list = await this.loadUidList(paths);
      const table = await readKeywordTable(paths.keywords);
      const files = await scanMessageFiles(paths, odd);
      if (list.entries.some((e) => !files.has(e.basename))) {
        // Agents that do not take our lock may rename a file mid-scan; look again before
        // declaring anything expunged, since a wrong call would renumber the message.
        for (const [basename, file] of await scanMessageFiles(paths)) if (!files.has(basename)) files.set(basename, file);
      }
      await inspectNewFiles(list, files, odd);
      const changes = reconcile(list, files, table);
      let announcement = nothingToAnnounce(user, paths.name);
      if (changes.dirty) {
        announcement = await beginAnnouncement(this.root, user, paths.name, mailboxUpdates(user, paths.name, list.uidValidity, changes));
        try {
          await writeUidList(paths.uidList, list);
        } catch (e) {
          await announcement.done();
          throw e;
        }
      }
      // Still under the lock: a flag change renames files, and a file looked up after it
      // was renamed would look gone (the session told to expunge it, then to show it again).
      const messages = describe ? await Promise.all(list.entries.map((e) => this.describe(e.uid, e.modseq, files.get(e.basename)!, table))) : [];
      return { scan: { list, files, table }, announcement, messages: messages.filter((m): m is MessageInfo => m !== undefined) };
    });
  }

  /**
   * Holding the lock, no writer can be using temp files of the list or keyword table, so
   * any left are from a crash; old files in tmp/ are abandoned deliveries. The watcher's
   * scan mark is written without the lock, but taking its temp file from a live writer
   * only costs it the mark (its rename fails; the next takeover scans the mailbox).
   * Debris is rare and harmless: each mailbox is swept at most once a minute per process,
   * not on every scan (a few directory reads each).
   */
  private async cleanUpAfterCrashes(paths: MailboxPaths): Promise<void> {
    const now = Date.now();
    if (now - (this.swept.get(paths.dir) ?? 0) < CLEANUP_EVERY_MS) return;
    if (this.swept.size > 100_000) this.swept.clear();
    this.swept.set(paths.dir, now);
    await Promise.all([
      removeLeftoverTempFiles(paths.uidList),
      removeLeftoverTempFiles(paths.keywords),
      removeLeftoverTempFiles(path.join(paths.dir, SCAN_MARK_FILE)),
      removeAbandonedDeliveries(paths),
    ]);
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
    const list = emptyUidList(await allocateUidValidity(paths.userDir, this.lockOptions));
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

  private async flagsOfOne(user: UserName, mailbox: MailboxName, uid: Uid, mode: FlagMode, flags: Flag[]): Promise<Flag[]> {
    checkUid(uid);
    const [done] = await this.storeFlags(user, mailbox, [uid], mode, flags);
    if (!done) throw unknownUid(uid, normalizeMailboxName(mailbox));
    return done.flags;
  }

  private async removeEntries(paths: MailboxPaths, list: UidList, doomed: UidList['entries'], files: Map<string, MessageFile>): Promise<Expunged> {
    // Files first: a crash before the list is written leaves entries without files, which
    // sync drops (and announces). The other order would leave files without UIDs, which
    // sync would revive.
    for (const e of doomed) {
      const file = files.get(e.basename);
      if (file) await unlinkIfPresent(file.path);
    }
    const gone = new Set(doomed.map((e) => e.uid));
    list.entries = list.entries.filter((e) => !gone.has(e.uid));
    const modseq = nextModseq(list);
    const uids = doomed.map((e) => e.uid);
    recordExpunge(list, uids, modseq);
    await writeUidList(paths.uidList, list);
    return { uids, modseq };
  }

  private async describe(uid: Uid, modseq: number, file: MessageFile, table: KeywordTable): Promise<MessageInfo | undefined> {
    const s = await lstat(file.path).catch(() => undefined);
    // Gone since the scan (an agent outside our lock): left out now, dropped by the next sync.
    if (!s?.isFile()) return undefined;
    return { uid, flags: lettersToFlags(file.letters, table), size: s.size, internalDate: s.mtime, file: file.path, modseq };
  }
}

/**
 * Files about to be numbered are opened once: one that vanished since the directory was
 * read is not numbered (a UID for nothing), empty and unreadable ones are numbered (they
 * are there, and IMAP shows what is there) but reported.
 */
async function inspectNewFiles(list: UidList, files: Map<string, MessageFile>, odd: OddFile[]): Promise<void> {
  const known = new Set(list.entries.map((e) => e.basename));
  for (const [basename, file] of files) {
    if (known.has(basename)) continue;
    try {
      const fd = openSync(file.path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
      let size: number;
      try {
        size = fstatSync(fd).size;
      } finally {
        closeSync(fd);
      }
      if (size === 0) odd.push({ path: file.path, why: 'empty' });
    } catch (e) {
      const code = errnoOf(e);
      if (code === 'ENOENT') {
        files.delete(basename);
        odd.push({ path: file.path, why: 'vanished' });
      } else if (code === 'ELOOP') {
        files.delete(basename); // swapped for a symbolic link since the directory was read
        odd.push({ path: file.path, why: 'not a regular file' });
      } else odd.push({ path: file.path, why: 'unreadable' });
    }
  }
}

/** The updates that announce a scan's findings: expunges, then flag changes, then new messages. */
function mailboxUpdates(user: UserName, mailbox: MailboxName, uidValidity: number, c: Reconciled): Update[] {
  const out: Update[] = [];
  const scope = c.modseq === undefined ? { uidValidity } : { uidValidity, modseq: c.modseq };
  if (c.expunged.length > 0) out.push(validateUpdate({ type: 'expunge', user, mailbox, uids: c.expunged, ...scope }));
  for (const f of c.flagged) out.push(validateUpdate({ type: 'flags', user, mailbox, uid: f.uid, flags: f.flags, ...scope }));
  if (c.added.length > 0) out.push(validateUpdate({ type: 'exists', user, mailbox, uids: c.added, ...scope }));
  return out;
}

function folderUpdates(user: UserName, c: FolderChanges): Update[] {
  return [
    ...c.deleted.map((mailbox) => validateUpdate({ type: 'mailbox', user, mailbox, op: 'delete' })),
    ...c.replaced.map((mailbox) => validateUpdate({ type: 'resync', user, mailbox })),
    ...c.created.map((mailbox) => validateUpdate({ type: 'mailbox', user, mailbox, op: 'create' })),
  ];
}
