import { ValidationError } from '../errors.js';
import { isUid, type Uid } from '../update/uid-set.js';
import type { Flag } from '../update/update.js';

/** What the server read from storage for one mailbox (at SELECT and for every resync). */
export interface MailboxState {
  uidValidity: number;
  /**
   * UIDNEXT at the time of the read. Lets the tracker tell a stale `exists` for a message
   * expunged before the read (below `uidNext`, not listed) from a new message. Defaults to
   * the highest listed UID + 1, which cannot recognise stale copies above it.
   */
  uidNext?: Uid;
  /** Every message, ascending (an unsorted list is sorted, at a cost). */
  uids: readonly Uid[];
  /** Flags per UID; a UID missing here has no flags. */
  flags: ReadonlyMap<Uid, readonly Flag[]>;
  /**
   * CONDSTORE HIGHESTMODSEQ of the read: `flags` updates at or below it are older than the
   * read and are ignored.
   */
  highestModseq?: number;
  /** Each message's MODSEQ, where storage keeps them (sessions with CONDSTORE are told them). */
  modseqs?: ReadonlyMap<Uid, number>;
}

/** Ascending, duplicate-free UIDs of a state; throws on anything that is not a UID. */
export function sortedUidsOf(state: MailboxState): Uid[] {
  if (!isUid(state.uidValidity)) throw new ValidationError('uidValidity', 'must be an integer 1..4294967295');
  if (state.uidNext !== undefined && !(isUid(state.uidNext) || state.uidNext === 0x1_0000_0000)) {
    throw new ValidationError('uidNext', 'must be an integer 1..4294967296');
  }
  const uids = state.uids.slice();
  let sorted = true;
  for (let i = 0; i < uids.length; i++) {
    const u = uids[i];
    if (!isUid(u)) throw new ValidationError('uids', `${JSON.stringify(u)} is not a UID`);
    if (i > 0 && u <= uids[i - 1]!) sorted = false;
  }
  if (sorted) return uids;
  uids.sort((a, b) => a - b);
  let w = 0;
  for (let r = 0; r < uids.length; r++) if (w === 0 || uids[r] !== uids[w - 1]) uids[w++] = uids[r]!;
  uids.length = w;
  return uids;
}
