import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PipeError } from '../errors.js';
import { MAX_UID } from '../update/uid-set.js';
import { writeFileAtomic } from './atomic-file.js';
import { withLock, type LockOptions } from './lock-file.js';

const COUNTER_FILE = 'updatepipe-uidvalidity';

/**
 * A fresh UIDVALIDITY for one of the user's mailboxes: seconds since the epoch, but
 * always above the last value handed out for this user, so a mailbox deleted and
 * re-created (or rebuilt) within the same second still gets a new one. Its lock is a
 * leaf: nothing else is ever locked while it is held.
 */
export async function allocateUidValidity(userDir: string, lockOptions: LockOptions): Promise<number> {
  const file = path.join(userDir, COUNTER_FILE);
  return withLock(`${file}.lock`, lockOptions, async () => {
    const last = Number((await readFile(file, 'utf8').catch(() => '0')).trim());
    const floor = Number.isSafeInteger(last) && last > 0 ? last : 0;
    const next = Math.max(Math.floor(Date.now() / 1000), floor + 1);
    if (next > MAX_UID) throw new PipeError('INTERNAL', `UIDVALIDITY space exhausted in ${userDir}`);
    await writeFileAtomic(file, `${next}\n`);
    return next;
  });
}
