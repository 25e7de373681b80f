import type { Uid } from '../update/uid-set.js';
import { sameFlags, type FlagSet } from './flag-set.js';
import type { MessageIndex } from './message-index.js';
import { diffMessages, indexOfUid, removePositions, type SortedMessages } from './sorted-uids.js';
import type { ByeReason, UntaggedResponse } from './untagged.js';

/**
 * One session's picture of the mailbox, exactly as its client holds it: the messages in
 * sequence order and the flags last told for each. What the client still has to learn is
 * not a queue of events but the set of UIDs that changed since the last poll ("dirty");
 * a poll compares just those with the shared index. That coalesces for free (three flag
 * changes are one FETCH; a message added and expunged in between is nothing) and bounds
 * memory by the number of distinct messages touched.
 *
 * Past `maxPending` dirty UIDs the set is dropped and the view marked stale: the next poll
 * compares the whole view with the index instead (O(n) once, never unbounded memory).
 */
export class SessionView implements SortedMessages {
  readonly uids: Uid[];
  readonly flags: (FlagSet | null)[];
  private readonly dirty = new Set<Uid>();
  private stale = false;
  private ending: ByeReason | null = null;
  private ended = false;
  private readonly listeners = new Set<() => void>();
  private wakeScheduled = false;
  /**
   * The MODSEQ of the flags last told for a message, where known. A change is only told
   * when it is newer than that: the client never sees flags older than ones it saw.
   */
  private readonly toldModseqs = new Map<Uid, number>();
  /** The client enabled CONDSTORE: every FETCH it is sent carries MODSEQ (RFC 7162 §3.1.4). */
  wantsModseq = false;

  constructor(
    uids: Uid[],
    flags: (FlagSet | null)[],
    private readonly maxPending: number,
    private readonly detach: () => void,
  ) {
    this.uids = uids;
    this.flags = flags;
  }

  get closed(): boolean {
    return this.ended || this.ending !== null;
  }

  get pending(): boolean {
    return this.ending !== null || this.stale || this.dirty.size > 0;
  }

  get needsFullCompare(): boolean {
    return this.stale;
  }

  /** `uid` may now differ between this view and the index. */
  touch(uid: Uid): void {
    if (this.stale || this.closed) return;
    this.dirty.add(uid);
    if (this.dirty.size > this.maxPending) {
      this.dirty.clear();
      this.stale = true;
    }
    this.wake();
  }

  /**
   * The session's own response (FETCH ... FLAGS) told its client these flags. Unlike
   * `acknowledge` the UID stays dirty: storage, which answered the FETCH, may be ahead of or
   * behind the index, and the next poll settles the difference.
   */
  told(uid: Uid, flags: FlagSet | null, modseq?: number): boolean {
    if (this.closed) return false;
    const i = indexOfUid(this.uids, uid);
    if (i < 0) return false;
    this.flags[i] = flags;
    if (modseq !== undefined) this.toldModseqs.set(uid, Math.max(modseq, this.toldModseqs.get(uid) ?? 0));
    return true;
  }

  /** The session's own command already told its client these flags (e.g. STORE). */
  acknowledge(uid: Uid, flags: FlagSet, modseq?: number): void {
    if (this.told(uid, flags, modseq) && !this.stale) this.dirty.delete(uid);
  }

  end(reason: ByeReason): void {
    if (this.closed) return;
    this.ending = reason;
    this.dirty.clear();
    this.stale = false;
    this.wake();
  }

  /** Ends without a BYE (the server closed the session itself). */
  close(): void {
    this.ended = true;
    this.ending = null;
    this.dirty.clear();
    this.listeners.clear();
    this.uids.length = 0;
    this.flags.length = 0;
    this.toldModseqs.clear();
    this.detach();
  }

  /** The index changed under the view (a new read): a pending change may be tellable now. */
  nudge(): void {
    if (this.pending) this.wake();
  }

  watch(listener: () => void): () => void {
    this.listeners.add(listener);
    if (this.pending) this.wake();
    return () => this.listeners.delete(listener);
  }

  poll(index: MessageIndex | null, allowExpunge: boolean): UntaggedResponse[] {
    if (this.ending !== null) return this.sayBye(this.ending);
    if (this.ended || index === null || !this.pending) return [];

    // Positions in this view (ascending) and new messages (ascending UIDs).
    const gone: number[] = [];
    const changed: number[] = [];
    const fresh: Uid[] = [];
    const freshFlags: (FlagSet | null)[] = [];
    if (this.stale) {
      const shared = index.messages;
      diffMessages(this, shared, (d, uid, mine, theirs) => {
        if (d === 'gone') gone.push(mine);
        else if (d === 'flags') changed.push(mine);
        else {
          fresh.push(uid);
          freshFlags.push(shared.flags[theirs]!);
        }
      });
    } else {
      const uids = [...this.dirty].sort((a, b) => a - b);
      for (const u of uids) {
        const mine = indexOfUid(this.uids, u);
        const theirs = index.flagsOf(u);
        if (mine >= 0 && theirs === undefined) gone.push(mine);
        // Only what differs from what the client was last told: stale updates after a
        // resync can move the index away and back within one poll, and a second identical
        // FETCH is noise a client may count as a change. The view learns what the
        // session's own FETCH responses said (`told`), so "last told" is exact.
        else if (mine >= 0) {
          if (!sameFlags(this.flags[mine]!, theirs ?? null)) changed.push(mine);
        }
        else if (theirs !== undefined) {
          fresh.push(u);
          freshFlags.push(theirs);
        }
      }
    }

    const out: UntaggedResponse[] = [];
    let shifted = changed;
    if (allowExpunge && gone.length > 0) {
      // Highest first: each number is then still the one the client knows.
      for (let k = gone.length - 1; k >= 0; k--) {
        const uid = this.uids[gone[k]!]!;
        this.toldModseqs.delete(uid);
        out.push({ kind: 'expunge', seq: gone[k]! + 1, uid });
      }
      shifted = shiftPast(changed, gone);
      removePositions(this.uids, this.flags, gone);
    }

    if (fresh.length > 0) {
      const last = this.uids.length > 0 ? this.uids[this.uids.length - 1]! : 0;
      if (fresh[0]! <= last) return this.sayBye('uid-order');
      for (let k = 0; k < fresh.length; k++) {
        this.uids.push(fresh[k]!);
        this.flags.push(freshFlags[k]!);
      }
      out.push({ kind: 'exists', count: this.uids.length });
    }

    const later: Uid[] = [];
    for (const p of shifted) {
      const uid = this.uids[p]!;
      const flags = index.flagsOf(uid) ?? null;
      if (flags === null) continue; // nothing known worth sending
      const modseq = index.modseqOf(uid);
      const told = this.toldModseqs.get(uid);
      // The client already has these flags' successor (its own FETCH read storage, which
      // was ahead of the index): the update that brings the index there is on its way.
      if (modseq !== undefined && told !== undefined && modseq <= told) continue;
      if (modseq === undefined && this.wantsModseq) {
        later.push(uid); // a CONDSTORE client needs the MODSEQ: the tracker reads storage
        continue;
      }
      this.flags[p] = flags;
      if (modseq !== undefined) this.toldModseqs.set(uid, modseq);
      out.push({ kind: 'fetch', seq: p + 1, uid, flags: flags.list, ...(modseq !== undefined ? { modseq } : {}) });
    }
    // New messages get a FETCH with their UID: the client learns it without a round trip,
    // and this view then knows exactly what its client was told about them.
    const firstFresh = this.uids.length - fresh.length;
    for (let k = 0; k < fresh.length; k++) {
      const uid = fresh[k]!;
      const modseq = index.modseqOf(uid);
      if (modseq === undefined && this.wantsModseq) continue; // it will FETCH them itself
      // Flags not known yet (they follow the `exists`, at the same modseq): nothing told.
      if (modseq !== undefined && freshFlags[k] !== null) this.toldModseqs.set(uid, modseq);
      out.push({ kind: 'fetch', seq: firstFresh + k + 1, uid, flags: freshFlags[k]?.list ?? null, ...(modseq !== undefined ? { modseq } : {}) });
    }

    this.dirty.clear();
    for (const uid of later) this.dirty.add(uid);
    this.stale = false;
    if (!allowExpunge && gone.length > 0) {
      // Held back: the UIDs stay in the view so the client's numbers stay right.
      if (gone.length > this.maxPending) this.stale = true;
      else for (const p of gone) this.dirty.add(this.uids[p]!);
    }
    return out;
  }

  private sayBye(reason: ByeReason): UntaggedResponse[] {
    this.close();
    return [{ kind: 'bye', reason }];
  }

  private wake(): void {
    if (this.wakeScheduled || this.listeners.size === 0) return;
    this.wakeScheduled = true;
    // Deferred so a burst of updates applied in one tick wakes an IDLE session once.
    queueMicrotask(() => {
      this.wakeScheduled = false;
      if (!this.pending) return;
      for (const l of [...this.listeners]) l();
    });
  }
}

/** Positions after removing `removed` (both ascending; none of `positions` is removed). */
function shiftPast(positions: readonly number[], removed: readonly number[]): number[] {
  const out: number[] = [];
  let k = 0;
  for (const p of positions) {
    while (k < removed.length && removed[k]! < p) k++;
    out.push(p - k);
  }
  return out;
}
