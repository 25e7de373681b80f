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
  /** Settles (never rejects) once the file's new name is on disk: the fsync of its directory. */
  durable: Promise<void>;
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

/** A message written to tmp/ and fsynced, not visible to anyone yet. */
export interface StagedMessage {
  basename: string;
  temp: string;
}

/**
 * The first half of the Maildir delivery protocol: write to tmp/ under a unique name and
 * fsync. Until `placeMessage` nobody sees it, so a crash leaves only debris in tmp/.
 */
export async function stageMessage(paths: MailboxPaths, content: MessageContent, internalDate?: Date): Promise<StagedMessage> {
  const basename = uniqueMaildirName();
  const temp = path.join(paths.tmp, basename);
  try {
    await writeContent(temp, content);
    // INTERNALDATE is the file's mtime, as Dovecot and Courier keep it.
    if (internalDate) await utimes(temp, internalDate, internalDate);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  return { basename, temp };
}

/**
 * The second half: the final name in new/ (no flags) or cur/ (with ":2,<letters>").
 * The store calls it holding the mailbox lock and numbers the message before letting go,
 * so no scan ever finds it without a UID (it would announce it a second time). The
 * directory's fsync is left running (`durable`): the caller has the UID list to write
 * meanwhile, and only the list's rename must wait for it.
 */
export async function placeMessage(paths: MailboxPaths, staged: StagedMessage, letters: string): Promise<DeliveredFile> {
  const final = letters === '' ? path.join(paths.new, staged.basename) : path.join(paths.cur, formatMaildirFilename(staged.basename, letters));
  try {
    try {
      await link(staged.temp, final); // unlike rename, link never replaces an existing file
      await unlink(staged.temp);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
      await rename(staged.temp, final); // filesystems without hard links
    }
  } catch (e) {
    await unlink(staged.temp).catch(() => undefined);
    throw e;
  }
  return { basename: staged.basename, path: final, durable: fsyncDir(path.dirname(final)) };
}

export async function discardStaged(staged: StagedMessage): Promise<void> {
  await unlink(staged.temp).catch(() => undefined);
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
