import { PipeError } from '../errors.js';
import type { MailboxName } from '../update/update.js';
import { acquireLock, type HeldLock, type LockOptions } from './lock-file.js';
import type { MailboxPaths } from './mailbox-paths.js';

export function noSuchMailbox(name: MailboxName): PipeError {
  return new PipeError('BAD_INPUT', `mailbox "${name}" does not exist`);
}

/** The lock guarding a mailbox's UID list, keywords and message renames. */
export async function lockMailbox(paths: MailboxPaths, options: LockOptions): Promise<HeldLock> {
  try {
    return await acquireLock(paths.lock, options);
  } catch (e) {
    // The lock lives inside the mailbox directory: ENOENT means it was deleted or renamed.
    if ((e as NodeJS.ErrnoException | null)?.code === 'ENOENT') throw noSuchMailbox(paths.name);
    throw e;
  }
}

export async function withMailboxLock<T>(paths: MailboxPaths, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  const lock = await lockMailbox(paths, options);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
