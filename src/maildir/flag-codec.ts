import { ValidationError } from '../errors.js';
import type { Flag } from '../update/update.js';
import { isKeyword, type KeywordTable } from './keywords.js';
import { normalizeLetters } from './maildir-filename.js';
import { isSystemFlagLetter, RECENT_FLAG, systemFlagLetter, systemFlagOfLetter } from './system-flags.js';

const MAX_FLAGS = 256;

/**
 * Validates flags from a caller and returns them de-duplicated (case-insensitively), with
 * system flags in their canonical spelling and \Recent dropped. Unknown system flags
 * ("\Foo") are refused: they could not be stored.
 */
export function normalizeFlags(input: readonly unknown[]): Flag[] {
  if (!Array.isArray(input)) throw new ValidationError('flags', 'must be an array of flags');
  if (input.length > MAX_FLAGS) throw new ValidationError('flags', `more than ${MAX_FLAGS} flags`);
  const out: Flag[] = [];
  const seen = new Set<string>();
  for (const f of input) {
    if (typeof f !== 'string') throw new ValidationError('flags', `${JSON.stringify(f)} is not a flag`);
    let flag: Flag;
    if (f.startsWith('\\')) {
      if (f.toLowerCase() === RECENT_FLAG.toLowerCase()) continue;
      const letter = systemFlagLetter(f);
      if (letter === undefined) throw new ValidationError('flags', `${JSON.stringify(f.slice(0, 40))} is not a system flag this store keeps`);
      flag = systemFlagOfLetter(letter)!;
    } else {
      if (!isKeyword(f)) throw new ValidationError('flags', `${JSON.stringify(f.slice(0, 40))} is not a valid IMAP keyword`);
      flag = f;
    }
    const key = flag.toLowerCase();
    if (!seen.has(key)) {
      seen.add(key);
      out.push(flag);
    }
  }
  return out;
}

export function keywordsOf(flags: readonly Flag[]): Flag[] {
  return flags.filter((f) => !f.startsWith('\\'));
}

/** `flags` must already be normalised and every keyword must be in `table`. */
export function flagsToLetters(flags: readonly Flag[], table: KeywordTable): string {
  let letters = '';
  for (const flag of flags) {
    const letter = flag.startsWith('\\') ? systemFlagLetter(flag) : table.letterOf(flag);
    if (letter === undefined) throw new Error(`no info letter for ${flag}`);
    letters += letter;
  }
  return normalizeLetters(letters);
}

/** Letters this store does not understand are skipped: unknown means "no flag". */
export function lettersToFlags(letters: string, table: KeywordTable): Flag[] {
  const out: Flag[] = [];
  for (const letter of letters) {
    const flag = systemFlagOfLetter(letter) ?? table.keywordOf(letter);
    if (flag !== undefined) out.push(flag);
  }
  return out;
}

/**
 * Upper-case letters other software uses (e.g. "P", passed) are kept when we rewrite a
 * file name; lower-case letters without a keyword are not, since a keyword assigned to
 * that letter later would otherwise appear on this message from nowhere.
 */
export function foreignLettersToKeep(letters: string): string {
  return [...letters].filter((l) => /^[A-Z]$/.test(l) && !isSystemFlagLetter(l)).join('');
}

/** Flag-set arithmetic, case-insensitive like IMAP; keeps the spelling of `a`. */
export function unionFlags(a: readonly Flag[], b: readonly Flag[]): Flag[] {
  const have = new Set(a.map((f) => f.toLowerCase()));
  return [...a, ...b.filter((f) => !have.has(f.toLowerCase()))];
}

export function withoutFlags(a: readonly Flag[], b: readonly Flag[]): Flag[] {
  const drop = new Set(b.map((f) => f.toLowerCase()));
  return a.filter((f) => !drop.has(f.toLowerCase()));
}
