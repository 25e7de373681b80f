import { MAX_UID, MAX_UID_RANGES } from './uid-set.js';

/**
 * Is `b[from, to)` a sequence set exactly as `UidSet.toString()` prints one: UIDs without
 * leading zeros, ranges `a:b` with a < b, ascending, neither overlapping nor adjacent,
 * within the limits `UidSet.parse` sets? Such text is its own canonical form, so the
 * canonical reader and writer pass it through unchanged; anything else is left to
 * `UidSet.parse`. Works on bytes: the reader has the wire's, the writer the ones it wrote.
 */
export function isCanonicalUidSet(b: Uint8Array, from: number, to: number): boolean {
  if (to <= from || to - from > MAX_UID_RANGES * 22) return false;
  let prev = -1; // the last UID of the previous range
  let ranges = 0;
  let i = from;
  while (i < to) {
    if (++ranges > MAX_UID_RANGES) return false;
    const a = uidAt(b, i, to);
    if (a < 0) return false;
    i = uidEnd;
    let last = a;
    if (i < to && b[i] === 0x3a) {
      last = uidAt(b, i + 1, to);
      if (last <= a) return false; // "5:5" and "7:5" print otherwise (and -1 is no UID)
      i = uidEnd;
    }
    if (prev >= 0 && a <= prev + 1) return false; // merged otherwise
    prev = last;
    if (i < to) {
      if (b[i] !== 0x2c || i + 1 === to) return false;
      i++;
    }
  }
  return true;
}

/** Where the UID read by `uidAt` ends (a module variable: no object per UID). */
let uidEnd = 0;

/** A UID written without leading zeros at `b[i]`, or -1. */
function uidAt(b: Uint8Array, i: number, to: number): number {
  if (i >= to) return -1;
  const first = b[i]!;
  if (first < 0x31 || first > 0x39) return -1;
  let v = first - 0x30;
  let j = i + 1;
  for (; j < to; j++) {
    const c = b[j]!;
    if (c < 0x30 || c > 0x39) break;
    v = v * 10 + (c - 0x30);
    if (v > MAX_UID) return -1;
  }
  uidEnd = j;
  return v;
}
