import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

const TEMP_INFIX = '.tmp.';

export function tempNameFor(file: string): string {
  return `${file}${TEMP_INFIX}${process.pid}.${randomBytes(6).toString('hex')}`;
}

/**
 * Replaces `file` so that readers (and a crash at any point) see either the old or the
 * new content, never a torn mix: write a sibling temp file, fsync it, rename it over.
 */
export async function writeFileAtomic(file: string, data: string | Buffer): Promise<void> {
  const temp = tempNameFor(file);
  const fh = await open(temp, 'wx', 0o600);
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(temp, file);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
  await fsyncDir(path.dirname(file));
}

/** Makes a rename or link in `dir` durable. Best effort: some filesystems refuse it. */
export async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // EISDIR/EINVAL/EPERM on platforms without directory fsync: nothing more we can do.
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
