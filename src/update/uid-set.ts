import { show, ValidationError } from '../errors.js';

/** IMAP UIDs are non-zero unsigned 32-bit integers (RFC 3501 §2.3.1.1). */
export type Uid = number;
export const MAX_UID: Uid = 0xffff_ffff;

/** Upper bound on ranges in one set: keeps hostile input from costing unbounded CPU. */
export const MAX_UID_RANGES = 100_000;

type Range = readonly [first: Uid, last: Uid];

export function isUid(n: unknown): n is Uid {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_UID;
}

/**
 * An immutable, canonical set of UIDs: sorted, disjoint, adjacent ranges merged, so two
 * equal sets always print the same (`1:3,7`). `*` is not allowed: an update names
 * concrete messages.
 */
export class UidSet implements Iterable<Uid> {
  private constructor(readonly ranges: readonly Range[]) {}

  static parse(input: unknown, field = 'uids'): UidSet {
    if (typeof input === 'string') return UidSet.fromRanges(parseSequenceSet(input, field), field);
    if (Array.isArray(input)) {
      if (input.length > MAX_UID_RANGES * 10) throw new ValidationError(field, `too many UIDs (max ${MAX_UID_RANGES * 10})`);
      const ranges: Range[] = [];
      for (const n of input) {
        if (!isUid(n)) throw new ValidationError(field, `${show(n)} is not a UID (integer 1..${MAX_UID})`);
        ranges.push([n, n]);
      }
      return UidSet.fromRanges(ranges, field);
    }
    throw new ValidationError(field, 'must be a sequence-set string like "1:5,9" or an array of UIDs');
  }

  static of(...uids: Uid[]): UidSet {
    return UidSet.parse(uids);
  }

  private static fromRanges(ranges: Range[], field: string): UidSet {
    if (ranges.length === 0) throw new ValidationError(field, 'must not be empty');
    ranges.sort((a, b) => a[0] - b[0]);
    const merged: [Uid, Uid][] = [];
    for (const [first, last] of ranges) {
      const prev = merged[merged.length - 1];
      if (prev && first <= prev[1] + 1) {
        if (last > prev[1]) prev[1] = last;
      } else {
        merged.push([first, last]);
      }
    }
    if (merged.length > MAX_UID_RANGES) throw new ValidationError(field, `too many ranges (max ${MAX_UID_RANGES})`);
    return new UidSet(merged);
  }

  get size(): number {
    let n = 0;
    for (const [a, b] of this.ranges) n += b - a + 1;
    return n;
  }

  has(uid: Uid): boolean {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.ranges[mid]!;
      if (uid < r[0]) hi = mid - 1;
      else if (uid > r[1]) lo = mid + 1;
      else return true;
    }
    return false;
  }

  *[Symbol.iterator](): Iterator<Uid> {
    for (const [a, b] of this.ranges) for (let u = a; u <= b; u++) yield u;
  }

  toString(): string {
    return this.ranges.map(([a, b]) => (a === b ? String(a) : `${a}:${b}`)).join(',');
  }

  toJSON(): string {
    return this.toString();
  }
}

const NZ_NUMBER = /^[1-9][0-9]{0,9}$/;

function parseUid(text: string, field: string): Uid {
  if (text === '*') throw new ValidationError(field, '"*" is not allowed in an update; name concrete UIDs');
  if (!NZ_NUMBER.test(text)) throw new ValidationError(field, `${JSON.stringify(text.slice(0, 20))} is not a UID (1..${MAX_UID})`);
  const n = Number(text);
  if (n > MAX_UID) throw new ValidationError(field, `${text} is above the largest UID ${MAX_UID}`);
  return n;
}

function parseSequenceSet(text: string, field: string): Range[] {
  if (text.length === 0) throw new ValidationError(field, 'must not be empty');
  // 11 characters per range at most ("4294967295,"), twice for "a:b".
  if (text.length > MAX_UID_RANGES * 22) throw new ValidationError(field, 'sequence set too long');
  const ranges: Range[] = [];
  for (const part of text.split(',')) {
    const colon = part.indexOf(':');
    if (colon < 0) {
      const u = parseUid(part, field);
      ranges.push([u, u]);
    } else {
      const a = parseUid(part.slice(0, colon), field);
      const b = parseUid(part.slice(colon + 1), field);
      ranges.push(a <= b ? [a, b] : [b, a]);
    }
  }
  return ranges;
}
