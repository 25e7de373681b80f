import type { Uid } from '../update/uid-set.js';
import { sameFlags, type FlagSet } from './flag-set.js';

/**
 * Messages as two parallel arrays in ascending UID order: position = sequence number - 1.
 * `null` flags: the message is known only from an `exists` update, its flags are not.
 */
export interface SortedMessages {
  readonly uids: readonly Uid[];
  readonly flags: readonly (FlagSet | null)[];
}

/** First index whose UID is >= `uid` (`uids.length` if none). */
export function lowerBound(uids: readonly Uid[], uid: Uid, from = 0): number {
  let lo = from;
  let hi = uids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (uids[mid]! < uid) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function indexOfUid(uids: readonly Uid[], uid: Uid): number {
  const i = lowerBound(uids, uid);
  return i < uids.length && uids[i] === uid ? i : -1;
}

/** How many of `uids` lie in `first..last`. */
export function countInRange(uids: readonly Uid[], first: Uid, last: Uid): number {
  return lowerBound(uids, last + 1) - lowerBound(uids, first);
}

/**
 * Removes the given positions (ascending) from both arrays in one pass that starts at the
 * first removed position: expunging k of n messages costs O(n), not O(k·n).
 */
export function removePositions<T>(uids: Uid[], flags: T[], positions: readonly number[]): void {
  if (positions.length === 0) return;
  let write = positions[0]!;
  let next = 0;
  for (let read = write; read < uids.length; read++) {
    if (next < positions.length && positions[next] === read) {
      next++;
      continue;
    }
    uids[write] = uids[read]!;
    flags[write] = flags[read]!;
    write++;
  }
  uids.length = write;
  flags.length = write;
}

export type Difference = 'gone' | 'new' | 'flags';

/**
 * Walks two sorted message lists together and reports each UID whose presence or flags
 * differ, with its position in each list (-1 where absent). `gone`: only in `from`;
 * `new`: only in `to`. `alsoChanged` may report a UID in both with the same flags as
 * `flags` all the same (a newer modseq). O(|from| + |to|).
 */
export function diffMessages(
  from: SortedMessages,
  to: SortedMessages,
  report: (d: Difference, uid: Uid, fromPos: number, toPos: number) => void,
  alsoChanged?: (uid: Uid) => boolean,
): void {
  let i = 0;
  let j = 0;
  while (i < from.uids.length || j < to.uids.length) {
    const a = i < from.uids.length ? from.uids[i]! : Infinity;
    const b = j < to.uids.length ? to.uids[j]! : Infinity;
    if (a < b) {
      report('gone', a, i++, -1);
    } else if (b < a) {
      report('new', b, -1, j++);
    } else {
      if (!sameFlags(from.flags[i]!, to.flags[j]!) || (alsoChanged !== undefined && alsoChanged(a))) report('flags', a, i, j);
      i++;
      j++;
    }
  }
}
