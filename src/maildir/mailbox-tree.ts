import { lstat, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PipeError } from '../errors.js';
import type { MailboxName } from '../update/update.js';
import { fsyncDir } from './atomic-file.js';
import { withLock, type LockOptions } from './lock-file.js';
import { lockMailbox, noSuchMailbox } from './mailbox-lock.js';
import { isSameOrBelow, mailboxOfFolderDirName } from './mailbox-name.js';
import { FOLDER_MARKER_FILE, isMaildir, mailboxPaths, mailboxPathsIn, type MailboxPaths } from './mailbox-paths.js';
import { folderIdentity, readFolderRecord, writeFolderRecord, type FolderRecord } from './folder-record.js';
import { emptyUidList, writeUidList } from './uid-list.js';
import { allocateUidValidity } from './uid-validity.js';
import { uniqueMaildirName } from './unique-name.js';

/*
 * The set of a user's non-INBOX mailboxes: Maildir++ folders, i.e. flat ".A.B"
 * directories in the user's Maildir. Changes to the set are serialised per user by one
 * lock; each directory rename also holds that mailbox's own lock so no write inside it is
 * cut in half.
 */

const MAILBOX_LIST_LOCK = 'updatepipe-mailboxes.lock';
// Neither starts with ".", so a half-made or half-deleted mailbox is never listed.
const STAGING_PREFIX = 'updatepipe-creating.';
const TRASH_PREFIX = 'updatepipe-trash.';

async function exists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  );
}

function alreadyExists(name: MailboxName): PipeError {
  return new PipeError('BAD_INPUT', `mailbox "${name}" already exists`);
}

async function withMailboxListLock<T>(userDir: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  return withLock(path.join(userDir, MAILBOX_LIST_LOCK), options, async () => {
    // Holding this lock, any staging or trash directory is debris from a crash.
    for (const n of await readdir(userDir)) {
      if (n.startsWith(STAGING_PREFIX) || n.startsWith(TRASH_PREFIX)) await rm(path.join(userDir, n), { recursive: true, force: true });
    }
    return fn();
  });
}

async function moveLockedMailbox(paths: MailboxPaths, newDir: string, options: LockOptions): Promise<void> {
  const lock = await lockMailbox(paths, options);
  let moved = false;
  try {
    await rename(paths.dir, newDir);
    moved = true;
  } finally {
    // The lock file moved with the directory; left there it would block the mailbox.
    await lock.release(moved ? path.join(newDir, path.basename(paths.lock)) : undefined);
  }
}

/** Unsorted; directories that are not well-formed folders of this store are skipped. */
export async function listFolderMailboxes(userDir: string): Promise<MailboxName[]> {
  return [...(await folderDirs(userDir)).values()].map((f) => f.name);
}

interface FolderDir {
  name: MailboxName;
  id: string;
}

/** The well-formed folders on disk by directory name; symbolic links are never folders. */
async function folderDirs(userDir: string): Promise<Map<string, FolderDir>> {
  const out = new Map<string, FolderDir>();
  for (const entry of await readdir(userDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const name = mailboxOfFolderDirName(entry.name);
    if (name === undefined) continue;
    const dir = path.join(userDir, entry.name);
    const [s, complete] = await Promise.all([lstat(dir).catch(() => undefined), isMaildir(dir)]);
    if (s?.isDirectory() && complete) out.set(entry.name, { name, id: folderIdentity(s) });
  }
  return out;
}

function recordOf(dirs: Map<string, FolderDir>): FolderRecord {
  return new Map([...dirs].map(([d, f]) => [d, f.id]));
}

/**
 * Applies the caller's own create, delete or rename to the record (caller holds the
 * mailbox-list lock). Only that change: what other tools did meanwhile stays for
 * `reconcileFolders` to find and announce. A record not made yet is adopted from disk.
 */
async function recordFolders(userDir: string, change: (record: FolderRecord) => Promise<void>): Promise<void> {
  const record = await readFolderRecord(userDir);
  if (record === null) return writeFolderRecord(userDir, recordOf(await folderDirs(userDir)));
  await change(record);
  await writeFolderRecord(userDir, record);
}

async function identityOf(dir: string): Promise<string | undefined> {
  const s = await lstat(dir).catch(() => undefined);
  return s ? folderIdentity(s) : undefined;
}

/** What other tools did to a user's set of folders since the store last recorded it. */
export interface FolderChanges {
  created: MailboxName[];
  deleted: MailboxName[];
  /** Same name, another directory (restored from a backup, removed and made again). */
  replaced: MailboxName[];
}

/**
 * Compares the folders on disk with the record under the mailbox-list lock. When there
 * are changes, `begin` is called before the record is rewritten (so an in-flight marker
 * exists before anything is recorded), and its result returned; `null` otherwise. A
 * missing or unreadable record is adopted silently: trees made before the record
 * existed must not announce every folder as new.
 */
export async function reconcileFolders<T>(userDir: string, options: LockOptions, begin: (changes: FolderChanges) => Promise<T>): Promise<T | null> {
  return withMailboxListLock(userDir, options, async () => {
    const [record, disk] = await Promise.all([readFolderRecord(userDir), folderDirs(userDir)]);
    if (record === null) {
      await writeFolderRecord(userDir, recordOf(disk));
      return null;
    }
    const changes: FolderChanges = { created: [], deleted: [], replaced: [] };
    for (const [dir, f] of disk) {
      const id = record.get(dir);
      if (id === undefined) changes.created.push(f.name);
      else if (id !== f.id) changes.replaced.push(f.name);
    }
    for (const dir of record.keys()) {
      if (disk.has(dir)) continue;
      const name = mailboxOfFolderDirName(dir);
      if (name !== undefined) changes.deleted.push(name);
    }
    if (changes.created.length + changes.deleted.length + changes.replaced.length === 0) return null;
    for (const list of [changes.created, changes.deleted, changes.replaced]) list.sort();
    const result = await begin(changes);
    await writeFolderRecord(userDir, recordOf(disk));
    return result;
  });
}

/** `ifExists: 'keep'` leaves an existing mailbox as it is (and returns null) instead of failing. */
export async function createFolderMailbox(userDir: string, name: MailboxName, options: LockOptions, ifExists: 'fail'): Promise<{ uidValidity: number }>;
export async function createFolderMailbox(userDir: string, name: MailboxName, options: LockOptions, ifExists: 'keep'): Promise<{ uidValidity: number } | null>;
export async function createFolderMailbox(userDir: string, name: MailboxName, options: LockOptions, ifExists: 'fail' | 'keep'): Promise<{ uidValidity: number } | null> {
  const target = mailboxPaths(userDir, name);
  return withMailboxListLock(userDir, options, async () => {
    if (await exists(target.dir)) {
      if (ifExists === 'keep') return null;
      throw alreadyExists(name);
    }
    const uidValidity = await allocateUidValidity(userDir, options);
    // Built aside and renamed into place, so no process ever sees it half made.
    const staging = mailboxPathsIn(userDir, path.join(userDir, STAGING_PREFIX + uniqueMaildirName()), name);
    try {
      for (const dir of [staging.dir, staging.cur, staging.new, staging.tmp]) await mkdir(dir, 0o700);
      await writeFile(path.join(staging.dir, FOLDER_MARKER_FILE), '');
      await writeUidList(staging.uidList, emptyUidList(uidValidity));
      await rename(staging.dir, target.dir);
    } catch (e) {
      await rm(staging.dir, { recursive: true, force: true });
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTEMPTY') throw alreadyExists(name);
      throw e;
    }
    await fsyncDir(userDir);
    await recordFolders(userDir, async (r) => {
      const id = await identityOf(target.dir);
      if (id !== undefined) r.set(path.basename(target.dir), id);
    });
    return { uidValidity };
  });
}

/** Deletes one mailbox with its messages; mailboxes below it stay (Maildir++ folders are flat). */
export async function deleteFolderMailbox(userDir: string, name: MailboxName, options: LockOptions): Promise<void> {
  const paths = mailboxPaths(userDir, name);
  await withMailboxListLock(userDir, options, async () => {
    if (!(await isMaildir(paths.dir))) throw noSuchMailbox(name);
    // One rename makes it vanish at once; the slow recursive delete happens out of sight.
    const trash = path.join(userDir, TRASH_PREFIX + uniqueMaildirName());
    await moveLockedMailbox(paths, trash, options);
    await fsyncDir(userDir);
    await recordFolders(userDir, async (r) => void r.delete(path.basename(paths.dir)));
    await rm(trash, { recursive: true, force: true });
  });
}

/**
 * Renames `source` and every mailbox below it. Not atomic across children: a crash midway
 * leaves some under the old name, each one intact. UIDVALIDITY and UIDs are kept.
 */
export async function renameFolderMailboxes(userDir: string, source: MailboxName, target: MailboxName, options: LockOptions): Promise<void> {
  await withMailboxListLock(userDir, options, async () => {
    if (!(await isMaildir(mailboxPaths(userDir, source).dir))) throw noSuchMailbox(source);
    const moving = (await listFolderMailboxes(userDir)).filter((n) => isSameOrBelow(n, source)).sort();
    // Every target is checked (and encoded, which may fail) before anything moves.
    const moves = moving.map((n) => ({ from: mailboxPaths(userDir, n), to: mailboxPaths(userDir, target + n.slice(source.length)) }));
    for (const m of moves) if (await exists(m.to.dir)) throw alreadyExists(m.to.name);
    for (const m of moves) await moveLockedMailbox(m.from, m.to.dir, options);
    await fsyncDir(userDir);
    await recordFolders(userDir, async (r) => {
      for (const m of moves) {
        const id = r.get(path.basename(m.from.dir)) ?? (await identityOf(m.to.dir));
        r.delete(path.basename(m.from.dir));
        if (id !== undefined) r.set(path.basename(m.to.dir), id);
      }
    });
  });
}
