import { closeSync, futimesSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { lstat, open, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { MailboxPaths } from './mailbox-paths.js';
import { formatMaildirFilename } from './maildir-filename.js';
import { fsyncDir, fsyncFd } from './atomic-file.js';
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

/**
 * Up to this size a message goes to disk with synchronous calls, like the store's small
 * files (see atomic-file.ts): a FileHandle's open, write and close are three thread-pool
 * round trips, and fs.promises costs a one-shot `mail add` ~1.7 ms just to load. Larger
 * ones are written asynchronously so a server's other sessions do not wait for the copy.
 */
const SYNC_WRITE_MAX = 1 << 20;

/** Writes a new file; resolves once written, with the fsync of its data and dates still running. */
async function writeContent(file: string, content: MessageContent, internalDate?: Date): Promise<{ durable: Promise<void> }> {
  if (Buffer.isBuffer(content) && content.length <= SYNC_WRITE_MAX) {
    const fd = openSync(file, 'wx', 0o600);
    try {
      for (let done = 0; done < content.length; ) done += writeSync(fd, content, done);
      if (internalDate) futimesSync(fd, internalDate, internalDate);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return { durable: fsyncFd(fd).finally(() => closeSync(fd)) };
  }
  const fh = await open(file, 'wx', 0o600);
  try {
    if (Buffer.isBuffer(content)) {
      await fh.writeFile(content);
    } else {
      for await (const chunk of content) await fh.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    }
    if (internalDate) await fh.utimes(internalDate, internalDate);
  } catch (e) {
    await fh.close();
    throw e;
  }
  return { durable: fh.sync().finally(() => fh.close()) };
}

/** A message written to tmp/, not visible to anyone yet. */
export interface StagedMessage {
  basename: string;
  temp: string;
  /** Settles once its content (and INTERNALDATE) is on disk: the fsync runs meanwhile. */
  durable: Promise<void>;
}

/**
 * The first half of the Maildir delivery protocol: write to tmp/ under a unique name and
 * start its fsync. Until `placeMessage` nobody sees it, so a crash leaves only debris in
 * tmp/. The fsync is left running so the caller can lock the mailbox and write its UID
 * list meanwhile; `placeMessage` waits for it before the file gets its visible name.
 */
export async function stageMessage(paths: MailboxPaths, content: MessageContent, internalDate?: Date): Promise<StagedMessage> {
  const basename = uniqueMaildirName();
  const temp = path.join(paths.tmp, basename);
  let written: { durable: Promise<void> };
  try {
    // INTERNALDATE is the file's mtime, as Dovecot and Courier keep it.
    written = await writeContent(temp, content, internalDate);
  } catch (e) {
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  written.durable.catch(() => undefined); // awaited by placeMessage or discardStaged, not unhandled before
  return { basename, temp, durable: written.durable };
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
    await staged.durable; // never a visible name for content a crash could still take
    try {
      linkSync(staged.temp, final); // unlike rename, link never replaces an existing file
      unlinkSync(staged.temp);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
      renameSync(staged.temp, final); // filesystems without hard links
    }
  } catch (e) {
    await unlink(staged.temp).catch(() => undefined);
    throw e;
  }
  return { basename: staged.basename, path: final, durable: fsyncDir(path.dirname(final)) };
}

export async function discardStaged(staged: StagedMessage): Promise<void> {
  await staged.durable.catch(() => undefined);
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
