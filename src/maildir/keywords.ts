import { readFileSync } from 'node:fs';
import { ValidationError } from '../errors.js';
import type { Flag } from '../update/update.js';
import { isFlag } from '../update/update.js';
import { writeFileAtomic } from './atomic-file.js';

/** One lower-case info letter per keyword, as Dovecot's `dovecot-keywords` does. */
export const MAX_KEYWORDS = 26;
const FIRST_LETTER = 'a'.charCodeAt(0);

/**
 * Per-mailbox map from info letters a–z to keywords, stored as `<index> <keyword>` lines
 * (index 0 = "a"). Keeping keywords in the file name makes every flag change one atomic
 * rename, at the price of at most 26 keywords per mailbox. A mapping, once written, is
 * never changed, so a copy read without the lock is never wrong, only possibly short.
 */
export class KeywordTable {
  private constructor(private readonly byIndex: readonly (Flag | undefined)[]) {}

  static empty(): KeywordTable {
    return new KeywordTable([]);
  }

  /** Lenient: malformed, duplicate or out-of-range lines are skipped, never fatal. */
  static parse(text: string): KeywordTable {
    const byIndex: (Flag | undefined)[] = [];
    const seen = new Set<string>();
    for (const line of text.split('\n')) {
      const m = /^([0-9]{1,2}) (\S+)$/.exec(line);
      if (!m) continue;
      const index = Number(m[1]);
      const keyword = m[2]!;
      if (index >= MAX_KEYWORDS || byIndex[index] !== undefined || !isKeyword(keyword)) continue;
      if (seen.has(keyword.toLowerCase())) continue;
      seen.add(keyword.toLowerCase());
      byIndex[index] = keyword;
    }
    return new KeywordTable(byIndex);
  }

  format(): string {
    let out = '';
    this.byIndex.forEach((k, i) => {
      if (k !== undefined) out += `${i} ${k}\n`;
    });
    return out;
  }

  /** In letter order, which is the order they were first used. */
  keywords(): Flag[] {
    return this.byIndex.filter((k): k is Flag => k !== undefined);
  }

  keywordOf(letter: string): Flag | undefined {
    const index = letter.charCodeAt(0) - FIRST_LETTER;
    return letter.length === 1 && index >= 0 && index < MAX_KEYWORDS ? this.byIndex[index] : undefined;
  }

  /** Keywords compare case-insensitively (RFC 3501 §2.3.2). */
  letterOf(keyword: Flag): string | undefined {
    const key = keyword.toLowerCase();
    const index = this.byIndex.findIndex((k) => k !== undefined && k.toLowerCase() === key);
    return index < 0 ? undefined : String.fromCharCode(FIRST_LETTER + index);
  }

  covers(keywords: readonly Flag[]): boolean {
    return keywords.every((k) => this.letterOf(k) !== undefined);
  }

  /** A table that also maps `keywords`; throws when the 26 letters run out. */
  withKeywords(keywords: readonly Flag[]): KeywordTable {
    const byIndex = [...this.byIndex];
    for (const keyword of keywords) {
      if (new KeywordTable(byIndex).letterOf(keyword) !== undefined) continue;
      let free = 0;
      while (free < MAX_KEYWORDS && byIndex[free] !== undefined) free++;
      if (free === MAX_KEYWORDS) {
        throw new ValidationError('flags', `cannot add keyword ${keyword}: this mailbox already uses ${MAX_KEYWORDS} keywords`);
      }
      byIndex[free] = keyword;
    }
    return new KeywordTable(byIndex);
  }
}

/** A keyword is a valid update flag without the leading "\" of system flags. */
export function isKeyword(flag: string): boolean {
  return !flag.startsWith('\\') && isFlag(flag);
}

export async function readKeywordTable(file: string): Promise<KeywordTable> {
  try {
    return KeywordTable.parse(readFileSync(file, 'utf8')); // small and hot: see atomic-file.ts
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return KeywordTable.empty();
    throw e;
  }
}

export async function writeKeywordTable(file: string, table: KeywordTable): Promise<void> {
  await writeFileAtomic(file, table.format());
}
