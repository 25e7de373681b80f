import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from './atomic-file.js';

/**
 * The folders of one user as this store last recorded (and so announced) them: directory
 * name → inode. Kept beside the folders in `updatepipe-folders`, written under the
 * user's mailbox-list lock by every create, delete and rename, so a scan can tell the
 * folders another tool made or removed from those the store's own callers announced.
 * The inode tells a folder replaced under the same name (a restore, `rm -r` + `mkdir`).
 */
export type FolderRecord = Map<string, number>;

export const FOLDER_RECORD_FILE = 'updatepipe-folders';
const HEADER = 'v1';
const LINE = /^([0-9]{1,20}) (\..+)$/;

/** Null when missing or unreadable: the caller adopts what is on disk without announcing it. */
export function parseFolderRecord(text: string): FolderRecord | null {
  if (!text.endsWith('\n')) return null;
  const lines = text.slice(0, -1).split('\n');
  if (lines[0] !== HEADER) return null;
  const record: FolderRecord = new Map();
  for (const line of lines.slice(1)) {
    const m = LINE.exec(line);
    if (!m || record.has(m[2]!)) return null;
    record.set(m[2]!, Number(m[1]));
  }
  return record;
}

export function formatFolderRecord(record: FolderRecord): string {
  let out = `${HEADER}\n`;
  for (const [dir, ino] of [...record].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) out += `${ino} ${dir}\n`;
  return out;
}

export async function readFolderRecord(userDir: string): Promise<FolderRecord | null> {
  const text = await readFile(path.join(userDir, FOLDER_RECORD_FILE), 'utf8').catch(() => null);
  return text === null ? null : parseFolderRecord(text);
}

export async function writeFolderRecord(userDir: string, record: FolderRecord): Promise<void> {
  await writeFileAtomic(path.join(userDir, FOLDER_RECORD_FILE), formatFolderRecord(record));
}
