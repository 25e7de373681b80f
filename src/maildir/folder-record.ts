import { readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './atomic-file.js';

/**
 * The folders of one user as this store last recorded (and so announced) them: directory
 * name → identity (inode and birth time; inodes alone are reused at once on ext4). Kept beside the folders in `updatepipe-folders`, written under the
 * user's mailbox-list lock by every create, delete and rename, so a scan can tell the
 * folders another tool made or removed from those the store's own callers announced.
 * The identity tells a folder replaced under the same name (a restore, `rm -r` + `mkdir`),
 * unless both happened within one kernel clock tick (a few ms): then the replacement's
 * new UID list, with a new UIDVALIDITY, still makes every session start over.
 */
export type FolderRecord = Map<string, string>;

/** `ino:birth` of a directory's lstat (birth time in µs; 0 where the filesystem has none). */
export function folderIdentity(s: { ino: number; birthtimeMs: number }): string {
  return `${s.ino}:${Math.round(s.birthtimeMs * 1000)}`;
}

export const FOLDER_RECORD_FILE = 'updatepipe-folders';
const HEADER = 'v1';
const LINE = /^([0-9]{1,20}:[0-9]{1,20}) (\..+)$/;

/** Null when missing or unreadable: the caller adopts what is on disk without announcing it. */
export function parseFolderRecord(text: string): FolderRecord | null {
  if (!text.endsWith('\n')) return null;
  const lines = text.slice(0, -1).split('\n');
  if (lines[0] !== HEADER) return null;
  const record: FolderRecord = new Map();
  for (const line of lines.slice(1)) {
    const m = LINE.exec(line);
    if (!m || record.has(m[2]!)) return null;
    record.set(m[2]!, m[1]!);
  }
  return record;
}

export function formatFolderRecord(record: FolderRecord): string {
  let out = `${HEADER}\n`;
  for (const [dir, id] of [...record].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out += `${id} ${dir}\n`;
  return out;
}

export async function readFolderRecord(userDir: string): Promise<FolderRecord | null> {
  let text: string;
  try {
    text = readFileSync(path.join(userDir, FOLDER_RECORD_FILE), 'utf8');
  } catch {
    return null;
  }
  return parseFolderRecord(text);
}

export async function writeFolderRecord(userDir: string, record: FolderRecord): Promise<void> {
  await writeFileAtomic(path.join(userDir, FOLDER_RECORD_FILE), formatFolderRecord(record));
}
