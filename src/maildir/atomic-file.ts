import { closeSync, fsync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from '../random-bytes.js';

/** fsync on the thread pool: the one call of the store that waits for the disk. */
export const fsyncFd = promisify(fsync);

const TEMP_INFIX = '.tmp.';

export function tempNameFor(file: string): string {
  return `${file}${TEMP_INFIX}${process.pid}.${randomBytes(6).toString('hex')}`;
}

/*
 * The store's small metadata files (UID lists, locks, markers) are opened, written and
 * renamed with synchronous calls; only the fsyncs, which wait for the disk, go to the
 * thread pool. Measured on a loaded 2-core machine: every async call costs a thread-pool
 * round trip of 0.1–0.3 ms, and one Maildir scan made about 40 of them in a row (7–14 ms
 * from a delivery to its announcement); the synchronous calls take microseconds each on
 * a local filesystem, as they do in Dovecot, which makes them all synchronously.
 */

/**
 * Replaces `file` so that readers (and a crash at any point) see either the old or the
 * new content, never a torn mix: write a sibling temp file, fsync it, rename it over.
 *
 * `renameAfter`: the rename waits for it (the temp file is written and fsynced meanwhile),
 * for a change that must be durable before this file may name it.
 */
export async function writeFileAtomic(file: string, data: string | Buffer, renameAfter?: Promise<void>): Promise<void> {
  const temp = tempNameFor(file);
  try {
    const fd = openSync(temp, 'wx', 0o600);
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      await Promise.all([fsyncFd(fd), renameAfter]);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
  await fsyncDir(path.dirname(file));
}

/** Makes a rename or link in `dir` durable. Best effort: some filesystems refuse it. */
export async function fsyncDir(dir: string): Promise<void> {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    await fsyncFd(fd);
  } catch {
    // EISDIR/EINVAL/EPERM on platforms without directory fsync: nothing more we can do.
  } finally {
    closeSync(fd);
  }
}

/**
 * Deletes temp files `writeFileAtomic` left beside `file` after a crash. Only safe while
 * holding the lock every writer of `file` takes, since then no temp file is in use.
 */
export async function removeLeftoverTempFiles(file: string): Promise<void> {
  const prefix = path.basename(file) + TEMP_INFIX;
  let names: string[];
  try {
    names = await readdir(path.dirname(file));
  } catch {
    return;
  }
  await Promise.all(names.filter((n) => n.startsWith(prefix)).map((n) => rm(path.join(path.dirname(file), n), { force: true })));
}
