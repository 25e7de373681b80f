import { readFileSync } from 'node:fs';
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
    let last = 0;
    try {
      last = Number(readFileSync(file, 'utf8').trim()); // a small file: synchronous, see atomic-file.ts
    } catch {
      // none yet
    }
    const floor = Number.isSafeInteger(last) && last > 0 ? last : 0;
    const next = Math.max(Math.floor(Date.now() / 1000), floor + 1);
    if (next > MAX_UID) throw new PipeError('INTERNAL', `UIDVALIDITY space exhausted in ${userDir}`);
    await writeFileAtomic(file, `${next}\n`);
    return next;
  });
}
