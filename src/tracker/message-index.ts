import { MAX_UID, type Uid, type UidSet } from '../update/uid-set.js';
import { FlagSet, type FlagSetPool } from './flag-set.js';
import { sortedUidsOf, type MailboxState } from './mailbox-state.js';
import { countInRange, indexOfUid, lowerBound, removePositions, type SortedMessages } from './sorted-uids.js';

/**
 * - `changed`/`unchanged`: applied (the flags did or did not differ);
 * - `stale`: older than what is known (modseq), or for a UID that is not (or no longer) here;
 * - `unplaceable`: for a UID never seen: only storage can tell its flags.
 */
export type FlagsOutcome = 'changed' | 'unchanged' | 'stale' | 'unplaceable';

export interface ExistsOutcome {
  added: Uid[];
  /** Some UIDs could not be placed (unknown but not provably new or gone): re-read storage. */
  unplaceable: boolean;
}

/**
 * The mailbox as this process best knows it, shared by all sessions of the mailbox: the
 * last storage read plus every update since. Sessions compare their views with it.
 *
 * UIDs are assigned in strictly ascending order (RFC 9051 §2.3.1.1), which gives two
 * watermarks: below `readNext` the last read listed every message that existed, so an
 * unknown UID there is long gone; at or above `uidNext` nothing was ever seen, so an
 * unknown UID there is new. An unknown UID between them is ambiguous (a late copy of an
 * expunged message, or a message whose `exists` was overtaken by a higher one).
 */
export class MessageIndex {
  private readonly uids: Uid[];
  private readonly flags: (FlagSet | null)[];
  /**
   * Expunged but still in the arrays: removing one message at a time would cost O(n)
   * each, so a stream of single-UID expunges is compacted in bulk instead.
   */
  private readonly removed = new Set<Uid>();
  readonly uidValidity: number;
  private readonly readNext: Uid;
  private uidNext: Uid;
  private readonly modseqFloor: number;
  /** Only UIDs whose flags changed with a modseq after the read: bounded by the mailbox. */
  private readonly modseqs = new Map<Uid, number>();

  private constructor(uidValidity: number, uids: Uid[], flags: (FlagSet | null)[], uidNext: Uid, modseqFloor: number) {
    this.uidValidity = uidValidity;
    this.uids = uids;
    this.flags = flags;
    this.readNext = uidNext;
    this.uidNext = uidNext;
    this.modseqFloor = modseqFloor;
  }

  static fromState(state: MailboxState, pool: FlagSetPool): MessageIndex {
    const uids = sortedUidsOf(state);
    const flags = uids.map((u) => {
      const f = state.flags.get(u);
      return f === undefined ? FlagSet.EMPTY : pool.of(f);
    });
    const last = uids.length > 0 ? uids[uids.length - 1]! : 0;
    const uidNext = Math.max(state.uidNext ?? 1, last + 1);
    return new MessageIndex(state.uidValidity, uids, flags, uidNext, state.highestModseq ?? 0);
  }

  /** The messages in order, as arrays that stay valid until the next change. */
  get messages(): SortedMessages {
    this.compact();
    return { uids: this.uids, flags: this.flags };
  }

  has(uid: Uid): boolean {
    return this.indexOf(uid) >= 0;
  }

  /** Current flags of `uid`, `null` if unknown, `undefined` if the UID is not in the mailbox. */
  flagsOf(uid: Uid): FlagSet | null | undefined {
    const i = this.indexOf(uid);
    return i < 0 ? undefined : this.flags[i]!;
  }

  private indexOf(uid: Uid): number {
    const i = indexOfUid(this.uids, uid);
    return i >= 0 && this.removed.has(uid) ? -1 : i;
  }

  private compact(): void {
    if (this.removed.size === 0) return;
    const positions: number[] = [];
    for (let i = 0; i < this.uids.length; i++) if (this.removed.has(this.uids[i]!)) positions.push(i);
    removePositions(this.uids, this.flags, positions);
    this.removed.clear();
  }

  /** Adds the UIDs that are certainly new; skips known and certainly-gone ones. */
  addExisting(set: UidSet, maxNew: number): ExistsOutcome {
    const firstNew = this.uidNext;
    let unplaceable = false;
    let fresh = 0;
    for (const [first, last] of set.ranges) {
      const lo = Math.max(first, this.readNext);
      const hi = Math.min(last, firstNew - 1);
      // Counting instead of iterating keeps "1:4294967295" as cheap as "7".
      if (lo <= hi) {
        this.compact();
        if (countInRange(this.uids, lo, hi) < hi - lo + 1) unplaceable = true;
      }
      if (last >= firstNew) fresh += last - Math.max(first, firstNew) + 1;
    }
    if (fresh > maxNew) return { added: [], unplaceable: true };
    const added: Uid[] = [];
    for (const [first, last] of set.ranges) {
      for (let u = Math.max(first, firstNew); u <= last; u++) {
        this.uids.push(u);
        this.flags.push(null);
        added.push(u);
      }
    }
    if (added.length > 0) this.uidNext = added[added.length - 1]! + 1;
    return { added, unplaceable };
  }

  /** Removes the known UIDs of `set`, walking the index rather than the set. */
  remove(set: UidSet): Uid[] {
    const gone: Uid[] = [];
    let from = 0;
    for (const [first, last] of set.ranges) {
      let i = lowerBound(this.uids, first, from);
      for (; i < this.uids.length && this.uids[i]! <= last; i++) {
        const u = this.uids[i]!;
        if (!this.removed.has(u)) gone.push(u);
      }
      from = i;
      if (from >= this.uids.length) break;
    }
    const top = set.ranges[set.ranges.length - 1]![1];
    // An expunge can overtake the `exists` of the same message: remembering that UIDs up
    // to here were "seen" makes a later `exists` for them ambiguous (checked against
    // storage) instead of resurrecting them.
    if (top >= this.uidNext) this.uidNext = Math.min(top, MAX_UID) + 1;
    for (const u of gone) {
      this.removed.add(u);
      this.modseqs.delete(u);
    }
    if (this.removed.size > Math.max(1024, this.uids.length >>> 3)) this.compact();
    return gone;
  }

  setFlags(uid: Uid, flags: FlagSet, modseq?: number): FlagsOutcome {
    const i = this.indexOf(uid);
    // Below uidNext an unknown UID is gone, or its late `exists` will make storage be read
    // anyway (after this change). Above, the flags would be lost when the `exists` comes.
    if (i < 0) return uid < this.uidNext ? 'stale' : 'unplaceable';
    if (modseq !== undefined) {
      if (modseq <= Math.max(this.modseqFloor, this.modseqs.get(uid) ?? 0)) return 'stale';
      this.modseqs.set(uid, modseq);
    }
    const current = this.flags[i]!;
    if (current !== null && current.key === flags.key) return 'unchanged';
    this.flags[i] = flags;
    return 'changed';
  }
}
