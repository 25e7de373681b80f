import type { Flag } from '../update/update.js';

/** The Maildir info letters for the IMAP system flags this store keeps. */
const LETTER_BY_FLAG: ReadonlyMap<string, string> = new Map([
  ['\\draft', 'D'],
  ['\\flagged', 'F'],
  ['\\answered', 'R'],
  ['\\seen', 'S'],
  ['\\deleted', 'T'],
]);

const FLAG_BY_LETTER: ReadonlyMap<string, Flag> = new Map([
  ['D', '\\Draft'],
  ['F', '\\Flagged'],
  ['R', '\\Answered'],
  ['S', '\\Seen'],
  ['T', '\\Deleted'],
]);

/** Session state, never stored (RFC 3501 §2.3.2): accepted on input and dropped. */
export const RECENT_FLAG: Flag = '\\Recent';
export const DELETED_LETTER = 'T';

export function systemFlagLetter(flag: Flag): string | undefined {
  return LETTER_BY_FLAG.get(flag.toLowerCase());
}

export function systemFlagOfLetter(letter: string): Flag | undefined {
  return FLAG_BY_LETTER.get(letter);
}

export function isSystemFlagLetter(letter: string): boolean {
  return FLAG_BY_LETTER.has(letter);
}
