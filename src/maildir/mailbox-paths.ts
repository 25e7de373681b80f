import { lstatSync } from 'node:fs';
import path from 'node:path';
import type { MailboxName } from '../update/update.js';
import { folderDirNameOf, isInbox } from './mailbox-name.js';

/** Where one mailbox's pieces live. INBOX is the user's Maildir itself (Maildir++). */
export interface MailboxPaths {
  name: MailboxName;
  /** The owning user's Maildir (equal to `dir` for INBOX). */
  userDir: string;
  dir: string;
  cur: string;
  new: string;
  tmp: string;
  uidList: string;
  keywords: string;
  /** Guards uidList and keywords, and every rename of a message file. */
  lock: string;
}

export const UIDLIST_FILE = 'updatepipe-uidlist';
export const KEYWORDS_FILE = 'updatepipe-keywords';
/** The watcher's record of a mailbox's last scan (src/maildir/watch/scan-mark.ts). */
export const SCAN_MARK_FILE = 'updatepipe-scanned';
/** Maildir++ marks sub-folders with this empty file (delivery agents look for it). */
export const FOLDER_MARKER_FILE = 'maildirfolder';

export function mailboxPathsIn(userDir: string, dir: string, name: MailboxName): MailboxPaths {
  return {
    name,
    userDir,
    dir,
    cur: path.join(dir, 'cur'),
    new: path.join(dir, 'new'),
    tmp: path.join(dir, 'tmp'),
    uidList: path.join(dir, UIDLIST_FILE),
    keywords: path.join(dir, KEYWORDS_FILE),
    lock: path.join(dir, `${UIDLIST_FILE}.lock`),
  };
}

export function mailboxPaths(userDir: string, name: MailboxName): MailboxPaths {
  return mailboxPathsIn(userDir, isInbox(name) ? userDir : path.join(userDir, folderDirNameOf(name)), name);
}

/**
 * A directory is a mailbox once it has all three Maildir subdirectories, real ones: a
 * symbolic link (`cur -> /etc`) would serve files from outside the tree.
 */
export async function isMaildir(dir: string): Promise<boolean> {
  // Three lstats on every store call: synchronous (see atomic-file.ts).
  return ['cur', 'new', 'tmp'].every((d) => lstatSync(path.join(dir, d), { throwIfNoEntry: false })?.isDirectory() === true);
}
