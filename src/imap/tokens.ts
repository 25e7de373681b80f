import type { Part } from './command-reader.js';

/** IMAP command syntax, as far as a server needs it (RFC 9051 §9). */
export type Token =
  | { t: 'atom'; v: string }
  | { t: 'string'; v: string; raw?: Buffer }
  | { t: 'list'; v: Token[] };

export class ImapSyntaxError extends Error {}

const ATOM_END = new Set([' ', '(', ')', '{', '"']);
const MAX_DEPTH = 16;
const MAX_TOKENS = 10_000;

/**
 * Tokenizes one command (text parts with literals between them). Atoms may contain a
 * bracketed section with spaces and parentheses inside (`BODY.PEEK[HEADER.FIELDS (FROM)]<0.10>`),
 * which is kept whole for the FETCH parser.
 */
export function tokenize(parts: Part[]): Token[] {
  let pi = 0;
  let text = typeof parts[0] === 'string' ? parts[0] : '';
  let i = 0;
  let count = 0;

  const atEnd = (): boolean => i >= text.length && !(parts[pi + 1] instanceof Buffer);

  function literal(): Token | null {
    if (i >= text.length && parts[pi + 1] instanceof Buffer) {
      const raw = parts[pi + 1] as Buffer;
      pi += 2;
      text = typeof parts[pi] === 'string' ? (parts[pi] as string) : '';
      i = 0;
      return { t: 'string', v: raw.toString('utf8'), raw };
    }
    return null;
  }

  function quoted(): Token {
    i++; // opening quote
    let out = '';
    for (;;) {
      if (i >= text.length) throw new ImapSyntaxError('unterminated quoted string');
      const c = text[i]!;
      if (c === '"') {
        i++;
        return { t: 'string', v: out };
      }
      if (c === '\\') {
        const n = text[i + 1];
        if (n !== '"' && n !== '\\') throw new ImapSyntaxError('bad escape in quoted string');
        out += n;
        i += 2;
        continue;
      }
      out += c;
      i++;
    }
  }

  function atom(): Token {
    const start = i;
    while (i < text.length && !ATOM_END.has(text[i]!)) {
      if (text[i] === ')' ) break;
      if (text[i] === '[') {
        let depth = 0;
        for (; i < text.length; i++) {
          if (text[i] === '[') depth++;
          else if (text[i] === ']' && --depth === 0) break;
        }
        if (i >= text.length) throw new ImapSyntaxError('unterminated [');
      }
      i++;
    }
    if (i === start) throw new ImapSyntaxError(`unexpected ${JSON.stringify(text[i] ?? 'end of line')}`);
    return { t: 'atom', v: text.slice(start, i) };
  }

  function value(depth: number): Token {
    if (++count > MAX_TOKENS) throw new ImapSyntaxError('too many arguments');
    const lit = literal();
    if (lit) return lit;
    const c = text[i];
    if (c === '"') return quoted();
    if (c === '(') {
      if (depth >= MAX_DEPTH) throw new ImapSyntaxError('lists nested too deep');
      i++;
      const items: Token[] = [];
      for (;;) {
        while (text[i] === ' ') i++;
        if (text[i] === ')') {
          i++;
          return { t: 'list', v: items };
        }
        if (atEnd()) throw new ImapSyntaxError('unterminated list');
        items.push(value(depth + 1));
      }
    }
    return atom();
  }

  const out: Token[] = [];
  for (;;) {
    if (atEnd()) return out;
    if (out.length > 0) {
      if (text[i] === ' ') i++;
      else if (!(i >= text.length && parts[pi + 1] instanceof Buffer)) throw new ImapSyntaxError('expected a space');
    }
    if (atEnd()) throw new ImapSyntaxError('trailing space');
    out.push(value(0));
  }
}

/** Quotes a string for a response: quoted when safe, a literal otherwise. */
export function imapString(s: string | null | undefined): string {
  if (s === null || s === undefined) return 'NIL';
  if (/^[\x20-\x7e]*$/.test(s) && s.length < 1024) return `"${s.replace(/[\\"]/g, (c) => '\\' + c)}"`;
  return `{${Buffer.byteLength(s)}}\r\n${s}`;
}

export function astring(tok: Token | undefined, what: string): string {
  if (!tok || tok.t === 'list') throw new ImapSyntaxError(`${what} expected`);
  return tok.v;
}
