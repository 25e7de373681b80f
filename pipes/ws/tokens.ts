import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PipeError } from '../../src/errors.js';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Accepted bearer tokens (several at once, for rotation). Checks compare SHA-256 digests
 * with timingSafeEqual against every token, so neither a token's length nor which one
 * matched shows in the timing.
 */
export class TokenSet {
  private readonly digests: Buffer[];

  constructor(tokens: readonly string[]) {
    const good = tokens.map((t) => t.trim()).filter((t) => t !== '' && !t.startsWith('#'));
    if (good.length === 0) throw new PipeError('USAGE', 'no tokens given (one per line in --token-file, or UPDATEPIPE_TOKEN)');
    for (const t of good) if (t.length < 16) throw new PipeError('USAGE', 'tokens must be at least 16 characters');
    this.digests = good.map(digest);
  }

  static async fromFile(file: string): Promise<TokenSet> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new PipeError('USAGE', `cannot read token file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return new TokenSet(text.split('\n'));
  }

  check(candidate: string): boolean {
    const d = digest(candidate);
    let ok = false;
    for (const t of this.digests) ok = timingSafeEqual(t, d) || ok;
    return ok;
  }
}

/** The bearer token in an Authorization header, or null. */
export function bearer(header: string | undefined): string | null {
  const m = /^Bearer ([\x21-\x7e]+)$/.exec(header ?? '');
  return m ? m[1]! : null;
}
