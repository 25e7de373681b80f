import type { Uid, UidSet } from '../update/uid-set.js';
import { FlagSet, type FlagSetPool } from './flag-set.js';
import { sortedUidsOf, type MailboxState } from './mailbox-state.js';
import { indexOfUid, lowerBound, removePositions, type SortedMessages } from './sorted-uids.js';

/** Expunges remembered for UIDs not placed yet; a flood past it reads storage instead. */
const MAX_GONE_AHEAD = 10_000;

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
 * UIDs are assigned in strictly ascending order (RFC 9051 §2.3.1.1), and a client's UIDs
 * only ever grow, so a message may be shown only once every lower UID is accounted for.
 * `placedNext` is that watermark: below it every UID is in the index or known gone (the
 * read listed every message that existed; `exists` added the rest in order; expunges
 * that overtook their `exists` are remembered in `goneAhead`). An `exists` that does not
 * start right at the watermark leaves a hole whose messages may exist (their `exists`
 * lost, or still on its way from another origin): it is not applied, and storage is read
 * instead, which places them all.
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
  private placedNext: Uid;
  /** UIDs at or above `placedNext` already expunged (the expunge overtook their `exists`). */
  private readonly goneAhead = new Set<Uid>();
  private readonly modseqFloor: number;
  /** Each message's modseq where known (from the read, then from updates): bounded by the mailbox. */
  private readonly modseqs: Map<Uid, number>;

  private constructor(uidValidity: number, uids: Uid[], flags: (FlagSet | null)[], uidNext: Uid, modseqFloor: number, modseqs: Map<Uid, number>) {
    this.modseqs = modseqs;
    this.uidValidity = uidValidity;
    this.uids = uids;
    this.flags = flags;
    this.placedNext = uidNext;
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
    const modseqs = new Map<Uid, number>();
    if (state.modseqs) for (const u of uids) {
      const m = state.modseqs.get(u);
      if (m !== undefined) modseqs.set(u, m);
    }
    return new MessageIndex(state.uidValidity, uids, flags, uidNext, state.highestModseq ?? 0, modseqs);
  }

  /** HIGHESTMODSEQ of the storage read this index was built from; 0 when storage gave none. */
  get readModseq(): number {
    return this.modseqFloor;
  }

  /** The messages in order, as arrays that stay valid until the next change. */
  get messages(): SortedMessages {
    this.compact();
    return { uids: this.uids, flags: this.flags };
  }

  has(uid: Uid): boolean {
    return this.indexOf(uid) >= 0;
  }

  /** Every message's MODSEQ is known. */
  get allModseqsKnown(): boolean {
    this.compact();
    return this.modseqs.size >= this.uids.length && this.uids.every((u) => this.modseqs.has(u));
  }

  /** The message's MODSEQ, if known (a producer without modseqs leaves it unknown). */
  modseqOf(uid: Uid): number | undefined {
    return this.modseqs.get(uid);
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

  /**
   * Adds the new UIDs of `set` if they continue the mailbox without a hole; known ones
   * and ones below the watermark (gone) are skipped. `unplaceable`: some could not be
   * placed (a hole before them, or more than `maxNew` at once): storage must be read.
   */
  addExisting(set: UidSet, maxNew: number, modseq?: number): ExistsOutcome {
    let fresh = 0;
    for (const [first, last] of set.ranges) if (last >= this.placedNext) fresh += last - Math.max(first, this.placedNext) + 1;
    if (fresh === 0) return { added: [], unplaceable: false };
    if (fresh > maxNew) return { added: [], unplaceable: true };
    const added: Uid[] = [];
    let unplaceable = false;
    for (const [first, last] of set.ranges) {
      for (let u = Math.max(first, this.placedNext); u <= last; u++) {
        if (u !== this.placedNext) {
          unplaceable = true; // a hole before u: its messages may exist
          break;
        }
        this.uids.push(u);
        this.flags.push(null);
        if (modseq !== undefined) this.modseqs.set(u, modseq);
        added.push(u);
        this.advance(u + 1);
      }
      if (unplaceable) break;
    }
    return { added, unplaceable };
  }

  /** Moves the watermark to `next`, and past UIDs already known gone. */
  private advance(next: Uid): void {
    this.placedNext = next;
    while (this.goneAhead.delete(this.placedNext)) this.placedNext++;
  }

  /**
   * Removes the known UIDs of `set`, walking the index rather than the set. UIDs not
   * placed yet are remembered as gone (bounded: past `MAX_GONE_AHEAD`, `false`: storage
   * must be read), so their late `exists` does not bring them back.
   */
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
    for (const [first, last] of set.ranges) {
      for (let u = Math.max(first, this.placedNext); u <= last && this.goneAhead.size <= MAX_GONE_AHEAD; u++) this.goneAhead.add(u);
    }
    if (this.goneAhead.delete(this.placedNext)) this.advance(this.placedNext + 1);
    for (const u of gone) {
      this.removed.add(u);
      this.modseqs.delete(u);
    }
    if (this.removed.size > Math.max(1024, this.uids.length >>> 3)) this.compact();
    return gone;
  }

  /** Too many expunges ran ahead of their `exists` to remember: only storage can say. */
  get overflowed(): boolean {
    return this.goneAhead.size > MAX_GONE_AHEAD;
  }

  setFlags(uid: Uid, flags: FlagSet, modseq?: number): FlagsOutcome {
    const i = this.indexOf(uid);
    // Below the watermark an unknown UID is gone. Above, the flags would be lost when the
    // `exists` comes (it adds the message with unknown flags): storage must tell.
    if (i < 0) return uid < this.placedNext || this.goneAhead.has(uid) ? 'stale' : 'unplaceable';
    if (modseq !== undefined) {
      const known = this.modseqs.get(uid);
      // Equal to what is known is still news while the flags are not known: an `exists`
      // gave the delivery's modseq, and its flags (set at delivery) follow at that modseq.
      if (modseq <= this.modseqFloor || (known !== undefined && (modseq < known || (modseq === known && this.flags[i] !== null)))) return 'stale';
      this.modseqs.set(uid, modseq);
    } else this.modseqs.delete(uid); // changed, by a producer that gives no modseq: unknown now
    const current = this.flags[i]!;
    if (current !== null && current.key === flags.key) return 'unchanged';
    this.flags[i] = flags;
    return 'changed';
  }
}
