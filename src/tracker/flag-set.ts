import { ValidationError } from '../errors.js';
import { isFlag, type Flag } from '../update/update.js';

/**
 * One message's flags in canonical form: duplicates removed and sorted, both
 * case-insensitively (RFC 3501 §2.3.2). Sets are shared between messages and sessions, so a
 * 100k-message view costs one pointer per message, not one array.
 */
export class FlagSet {
  /** Compare sets with `key`: two pools may hold equal sets as different objects. */
  readonly key: string;
  readonly list: readonly Flag[];

  private constructor(list: readonly Flag[]) {
    this.list = Object.freeze(list);
    this.key = list.map((f) => f.toLowerCase()).join(' ');
  }

  static readonly EMPTY = new FlagSet([]);

  /** @internal Only `FlagSetPool` builds sets, after validating. */
  static fromCanonical(list: Flag[]): FlagSet {
    return list.length === 0 ? FlagSet.EMPTY : new FlagSet(list);
  }
}

export function sameFlags(a: FlagSet | null, b: FlagSet | null): boolean {
  return a === b || (a !== null && b !== null && a.key === b.key);
}

/**
 * Interns flag sets. The pool is bounded because keywords are user-controlled: past `max`
 * distinct sets it starts afresh, which only costs sharing, never correctness (sets are
 * compared by key).
 */
export class FlagSetPool {
  private readonly sets = new Map<string, FlagSet>();

  constructor(private readonly max = 4096) {}

  /** Throws `ValidationError` for anything that is not an IMAP flag, so it can't reach a response line. */
  of(flags: readonly Flag[]): FlagSet {
    if (flags.length === 0) return FlagSet.EMPTY;
    const byKey = new Map<string, Flag>();
    for (const f of flags) {
      if (!isFlag(f)) throw new ValidationError('flags', `${JSON.stringify(String(f).slice(0, 40))} is not a valid IMAP flag`);
      const k = f.toLowerCase();
      if (!byKey.has(k)) byKey.set(k, f);
    }
    const keys = [...byKey.keys()].sort();
    const key = keys.join(' ');
    const known = this.sets.get(key);
    if (known !== undefined) return known;
    if (this.sets.size >= this.max) this.sets.clear();
    const set = FlagSet.fromCanonical(keys.map((k) => byKey.get(k)!));
    this.sets.set(key, set);
    return set;
  }
}
