/**
 * A message file name split into its stable key and its flag letters. The key (the part
 * before the first ":") never changes when flags change, so the UID list refers to it.
 */
export interface MaildirFilename {
  basename: string;
  /** Flag letters from a ":2," info, de-duplicated and in ASCII order; "" when none. */
  letters: string;
}

/** Longer keys are refused so one hostile file cannot bloat every UID list rewrite. */
export const MAX_BASENAME_LENGTH = 1024;
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f\/\uFFFD]/;

/**
 * Never throws. Returns `undefined` for names that cannot be a message of this store:
 * hidden files, names with control characters (they could not be written to the
 * line-based UID list), names that were not valid UTF-8 on disk (U+FFFD: the name read
 * back would not open the file), an empty or overlong key. Any info other than ":2,"
 * and any non-letter in it is ignored, i.e. treated as no flags.
 */
export function parseMaildirFilename(name: string): MaildirFilename | undefined {
  if (name.length === 0 || name.startsWith('.') || UNSAFE.test(name)) return undefined;
  const colon = name.indexOf(':');
  const basename = colon < 0 ? name : name.slice(0, colon);
  if (basename.length === 0 || basename.length > MAX_BASENAME_LENGTH) return undefined;
  const info = colon < 0 ? '' : name.slice(colon + 1);
  return { basename, letters: info.startsWith('2,') ? normalizeLetters(info.slice(2)) : '' };
}

export function normalizeLetters(letters: string): string {
  const seen = new Set<string>();
  for (const ch of letters) if (/^[A-Za-z]$/.test(ch)) seen.add(ch);
  return [...seen].sort().join('');
}

export function formatMaildirFilename(basename: string, letters: string): string {
  return `${basename}:2,${normalizeLetters(letters)}`;
}
