/**
 * RFC 5322 address lists as IMAP's ENVELOPE needs them (RFC 9051 §7.5.2), read the way
 * Dovecot reads them: display names from phrases (or from a comment after a bare address),
 * quoted local parts unquoted, source routes kept, groups as start and end markers, and
 * placeholders where a part is missing (a NIL host would mean "group", so it never is one).
 * Works on latin1 text (one character per byte) and never throws.
 */

export type Address =
  | { kind: 'mailbox'; name: string | null; route: string | null; mailbox: string; host: string }
  /** `name:` opens a group (NIL host in ENVELOPE), `;` closes it (all NIL). */
  | { kind: 'group-start'; name: string }
  | { kind: 'group-end' };

export const MISSING_MAILBOX = 'MISSING_MAILBOX';
export const MISSING_DOMAIN = 'MISSING_DOMAIN';

type Tok =
  | { k: 'atom'; v: string; space: boolean }
  | { k: 'quoted'; v: string; space: boolean }
  | { k: 'literal'; v: string; space: boolean }
  | { k: 'special'; v: string; space: boolean }
  | { k: 'comment'; v: string; space: boolean };

const SPECIALS = new Set(['(', ')', '<', '>', '[', ']', ':', ';', '@', '\\', ',', '.', '"']);
const MAX_ADDRESSES = 1000;

function lex(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  let space = false;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      space = true;
      i++;
      continue;
    }
    if (c === '(') {
      let depth = 0;
      let v = '';
      for (; i < s.length; i++) {
        const d = s[i]!;
        if (d === '\\' && i + 1 < s.length) {
          v += s[++i];
          continue;
        }
        if (d === '(' && depth++ === 0) continue;
        if (d === ')' && --depth === 0) {
          i++;
          break;
        }
        v += d;
      }
      out.push({ k: 'comment', v: v.trim(), space });
    } else if (c === '"') {
      let v = '';
      for (i++; i < s.length && s[i] !== '"'; i++) v += s[i] === '\\' && i + 1 < s.length ? s[++i] : s[i];
      i++;
      out.push({ k: 'quoted', v, space });
    } else if (c === '[') {
      const end = s.indexOf(']', i);
      const stop = end < 0 ? s.length : end + 1;
      out.push({ k: 'literal', v: s.slice(i, stop), space });
      i = stop;
    } else if (SPECIALS.has(c)) {
      out.push({ k: 'special', v: c, space });
      i++;
    } else {
      const start = i;
      while (i < s.length && !SPECIALS.has(s[i]!) && !' \t\r\n'.includes(s[i]!)) i++;
      out.push({ k: 'atom', v: s.slice(start, i), space });
    }
    space = false;
  }
  return out;
}

class AddressParser {
  private i = 0;
  readonly out: Address[] = [];
  private lastComment: string | null = null;

  constructor(private readonly t: Tok[]) {}

  private peek(): Tok | undefined {
    // Comments are white space, except that the last one can name a bare address.
    while (this.t[this.i]?.k === 'comment') this.lastComment = this.t[this.i++]!.v || null;
    return this.t[this.i];
  }

  private isSpecial(v: string): boolean {
    const t = this.peek();
    return t?.k === 'special' && t.v === v;
  }

  /** Words and dots up to a special other than `.`, joined as written (single spaces). */
  private phrase(): string {
    let out = '';
    for (let t = this.peek(); t && (t.k === 'atom' || t.k === 'quoted' || (t.k === 'special' && t.v === '.')); t = this.peek()) {
      out += (out && t.space ? ' ' : '') + t.v;
      this.i++;
    }
    return out;
  }

  /** dot-atom or quoted-string local part, or a domain: tokens concatenated. */
  private dotted(allowLiteral: boolean): string {
    let out = '';
    for (let t = this.peek(); t; t = this.peek()) {
      if (t.k === 'atom' || t.k === 'quoted' || (t.k === 'special' && t.v === '.') || (allowLiteral && t.k === 'literal')) {
        out += t.v;
        this.i++;
      } else break;
    }
    return out;
  }

  private skipTo(stops: string): void {
    for (let t = this.peek(); t && !(t.k === 'special' && stops.includes(t.v)); t = this.peek()) this.i++;
  }

  parseList(): Address[] {
    while (this.peek() && this.out.length < MAX_ADDRESSES) {
      if (this.isSpecial(',') || this.isSpecial(';')) {
        this.i++;
        continue;
      }
      const start = this.i;
      const name = this.phrase();
      if (this.isSpecial(':')) {
        this.i++;
        this.out.push({ kind: 'group-start', name });
        while (this.peek() && !this.isSpecial(';') && this.out.length < MAX_ADDRESSES) {
          if (this.isSpecial(',')) this.i++;
          else this.mailboxMovingOn(this.i);
        }
        if (this.isSpecial(';')) this.i++;
        this.out.push({ kind: 'group-end' });
        continue;
      }
      this.mailboxMovingOn(start);
    }
    return this.out;
  }

  /** A mailbox, or at least one token further: hostile input cannot stall the loop. */
  private mailboxMovingOn(start: number): void {
    this.mailbox(start);
    if (this.i <= start) this.i = start + 1;
  }

  private mailbox(start: number): void {
    this.i = start;
    this.lastComment = null;
    const name = this.phrase();
    let route: string | null = null;
    let local: string;
    let domain = '';
    if (this.isSpecial('<')) {
      this.i++;
      if (this.isSpecial('@')) {
        const at = this.i;
        this.skipTo(':>');
        if (this.isSpecial(':')) {
          route = this.t
            .slice(at, this.i)
            .filter((t) => t.k !== 'comment')
            .map((t) => t.v)
            .join('');
          this.i++;
        } else this.i = at;
      }
      local = this.dotted(false);
      if (this.isSpecial('@')) {
        this.i++;
        domain = this.dotted(true);
      }
      this.skipTo('>,;');
      if (this.isSpecial('>')) this.i++;
      this.finish(name || null, route, local, domain, true);
      return;
    }
    // A bare addr-spec: what looked like a phrase was its local part.
    this.i = start;
    local = this.dotted(false);
    if (this.isSpecial('@')) {
      this.i++;
      domain = this.dotted(true);
    }
    this.peek(); // picks up a trailing comment
    this.skipTo(',;');
    this.finish(this.lastComment, null, local, domain);
  }

  /** `angle`: written as `<…>`, so an address even when empty (`<>`). */
  private finish(name: string | null, route: string | null, local: string, domain: string, angle = false): void {
    if (!angle && local === '' && domain === '' && name === null && route === null) return; // nothing at all (e.g. ",,")
    this.out.push({ kind: 'mailbox', name: name || null, route, mailbox: local || MISSING_MAILBOX, host: domain || MISSING_DOMAIN });
  }
}

export function parseAddressList(value: string): Address[] {
  return new AddressParser(lex(value)).parseList();
}
