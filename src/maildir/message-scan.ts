import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { MailboxPaths } from './mailbox-paths.js';
import { parseMaildirFilename } from './maildir-filename.js';

export interface MessageFile {
  basename: string;
  letters: string;
  /** Absolute path as found. */
  path: string;
}

/** An entry of new/ or cur/ that is not a message (left alone), or a message with something odd about it. */
export interface OddFile {
  /** Absolute path as found (an undecodable name shows U+FFFD). */
  path: string;
  why: 'not a regular file' | 'unusable name' | 'empty' | 'unreadable' | 'vanished';
}

async function filesIn(dir: string, odd: OddFile[] | undefined): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    // Only regular files: a symlink could expose any file on the host as a message.
    const out: string[] = [];
    for (const e of entries) {
      if (e.isFile()) out.push(e.name);
      else odd?.push({ path: path.join(dir, e.name), why: 'not a regular file' });
    }
    return out;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * Every message file in new/ and cur/, keyed by basename. new/ is read before cur/
 * because files only move new → cur: one moving during the scan is then still seen.
 * Should a basename occur twice (another agent's doing), cur/ wins, then the smallest
 * name, so every process picks the same file.
 */
export async function scanMessageFiles(paths: MailboxPaths, odd?: OddFile[]): Promise<Map<string, MessageFile>> {
  const found = new Map<string, MessageFile>();
  for (const [dir, names] of [
    [paths.new, await filesIn(paths.new, odd)],
    [paths.cur, await filesIn(paths.cur, odd)],
  ] as const) {
    for (const name of names.sort()) {
      const parsed = parseMaildirFilename(name);
      if (!parsed) {
        odd?.push({ path: path.join(dir, name), why: 'unusable name' });
        continue;
      }
      const previous = found.get(parsed.basename);
      if (previous && path.dirname(previous.path) === dir) continue;
      found.set(parsed.basename, { ...parsed, path: path.join(dir, name) });
    }
  }
  return found;
}

/** The current file of one message, or `undefined` if it is gone. */
export async function locateMessageFile(paths: MailboxPaths, basename: string): Promise<MessageFile | undefined> {
  // A full scan, so duplicates resolve exactly as in sync; O(messages), fine at this scale.
  return (await scanMessageFiles(paths)).get(basename);
}
