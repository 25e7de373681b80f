import { link, lstat, open, readdir, rename, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { MailboxPaths } from './mailbox-paths.js';
import { formatMaildirFilename } from './maildir-filename.js';
import { fsyncDir } from './atomic-file.js';
import { uniqueMaildirName } from './unique-name.js';

/** Files older than this in tmp/ are abandoned deliveries (the Maildir spec's 36 hours). */
const TMP_MAX_AGE_MS = 36 * 3600 * 1000;

export type MessageContent = Buffer | NodeJS.ReadableStream;

export interface DeliveredFile {
  basename: string;
  path: string;
}

async function writeContent(file: string, content: MessageContent): Promise<void> {
  const fh = await open(file, 'wx', 0o600);
  try {
    if (Buffer.isBuffer(content)) {
      await fh.writeFile(content);
    } else {
      for await (const chunk of content) await fh.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * The Maildir delivery protocol: write to tmp/ under a unique name and fsync, then give it
 * its final name in new/ (no flags) or cur/ (with ":2,<letters>"). Until that last step
 * nobody sees the message, so a crash can leave only debris in tmp/. The message has no
 * UID yet; the caller assigns it under the mailbox lock (or the next sync does).
 */
export async function deliverMessage(paths: MailboxPaths, content: MessageContent, letters: string, internalDate?: Date): Promise<DeliveredFile> {
  const basename = uniqueMaildirName();
  const temp = path.join(paths.tmp, basename);
  const final = letters === '' ? path.join(paths.new, basename) : path.join(paths.cur, formatMaildirFilename(basename, letters));
  try {
    await writeContent(temp, content);
    // INTERNALDATE is the file's mtime, as Dovecot and Courier keep it.
    if (internalDate) await utimes(temp, internalDate, internalDate);
    try {
      await link(temp, final); // unlike rename, link never replaces an existing file
      await unlink(temp);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
      await rename(temp, final); // filesystems without hard links
    }
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  await fsyncDir(path.dirname(final));
  return { basename, path: final };
}

/** Removes what crashed deliveries left in tmp/; younger files may still be in progress. */
export async function removeAbandonedDeliveries(paths: MailboxPaths): Promise<void> {
  const names = await readdir(paths.tmp).catch(() => [] as string[]);
  const cutoff = Date.now() - TMP_MAX_AGE_MS;
  await Promise.all(
    names.map(async (n) => {
      const file = path.join(paths.tmp, n);
      const s = await lstat(file).catch(() => undefined);
      if (s?.isFile() && s.mtimeMs < cutoff) await unlink(file).catch(() => undefined);
    }),
  );
}
