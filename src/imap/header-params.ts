/**
 * MIME header fields with parameters (Content-Type, Content-Disposition; RFC 2045, 2183,
 * 2231), read as Dovecot reads them: comments dropped, names and values kept as written,
 * duplicates kept in order, RFC 2231 continuations (`name*0*=…; name*1*=…`) joined into one
 * parameter (`name*`, still encoded: clients decode it).
 */

export type Param = [name: string, value: string];

export interface ContentType {
  /** As written; the defaults are lower case. */
  type: string;
  subtype: string;
  params: Param[];
}

type Lexeme = { k: 'word'; v: string } | { k: 'quoted'; v: string } | { k: 'special'; v: string };

const TSPECIALS = new Set(['(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=']);

/** RFC 2045 tokens, quoted strings and specials, with white space and (nested) comments skipped. */
function lex(value: string): Lexeme[] {
  const out: Lexeme[] = [];
  let i = 0;
  while (i < value.length) {
    const c = value[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
    } else if (c === '(') {
      let depth = 0;
      for (; i < value.length; i++) {
        if (value[i] === '\\') i++;
        else if (value[i] === '(') depth++;
        else if (value[i] === ')' && --depth === 0) {
          i++;
          break;
        }
      }
    } else if (c === '"') {
      let v = '';
      for (i++; i < value.length && value[i] !== '"'; i++) v += value[i] === '\\' && i + 1 < value.length ? value[++i] : value[i];
      i++;
      out.push({ k: 'quoted', v });
    } else if (TSPECIALS.has(c)) {
      out.push({ k: 'special', v: c });
      i++;
    } else {
      const start = i;
      while (i < value.length && !TSPECIALS.has(value[i]!) && !' \t\r\n'.includes(value[i]!)) i++;
      out.push({ k: 'word', v: value.slice(start, i) });
    }
  }
  return out;
}

/** `; name=value` pairs from `lx[i]` on; a malformed one is skipped up to the next `;`. */
function params(lx: Lexeme[], i: number): Param[] {
  const out: Param[] = [];
  while (i < lx.length) {
    if (lx[i]!.k !== 'special' || lx[i]!.v !== ';') {
      i++;
      continue;
    }
    const name = lx[i + 1];
    const eq = lx[i + 2];
    const val = lx[i + 3];
    if (name?.k === 'word' && eq?.k === 'special' && eq.v === '=' && val && val.k !== 'special') {
      out.push([name.v, val.v]);
      i += 4;
    } else i++;
  }
  return joinContinuations(out);
}

/** RFC 2231 §3: `a*0`, `a*1`… (or `a*0*`, `a*1*`…) become one `a` (or `a*`), after the other parameters. */
function joinContinuations(list: Param[]): Param[] {
  const plain: Param[] = [];
  const groups = new Map<string, { name: string; extended: boolean; segs: Map<number, string> }>();
  for (const [name, value] of list) {
    const m = /^(.+?)\*(\d{1,3})(\*?)$/.exec(name);
    if (!m) {
      plain.push([name, value]);
      continue;
    }
    const key = m[1]!.toLowerCase();
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { name: m[1]!, extended: false, segs: new Map() }));
    const n = Number(m[2]);
    if (n === 0) g.extended = m[3] === '*';
    if (!g.segs.has(n)) g.segs.set(n, value);
  }
  for (const g of groups.values()) {
    let value = '';
    for (let n = 0; g.segs.has(n); n++) value += g.segs.get(n);
    plain.push([g.extended ? `${g.name}*` : g.name, value]);
  }
  return plain;
}

/**
 * Content-Type with the RFC 2045 §5.2 defaults: none (or one without a valid type/subtype)
 * is text/plain; charset=us-ascii, and message/rfc822 inside multipart/digest (RFC 2046
 * §5.1.5). A text type without a charset gets `charset=us-ascii` appended, as Dovecot does.
 */
export function parseContentType(value: string | null, inDigest = false): ContentType {
  const lx = value === null ? [] : lex(value);
  const [t, slash, s] = lx;
  let ct: ContentType;
  if (t?.k === 'word' && slash?.k === 'special' && slash.v === '/' && s?.k === 'word') ct = { type: t.v, subtype: s.v, params: params(lx, 3) };
  else if (inDigest && value === null) ct = { type: 'message', subtype: 'rfc822', params: [] };
  else ct = { type: 'text', subtype: 'plain', params: [] };
  if (ct.type.toLowerCase() === 'text' && !ct.params.some(([k]) => k.toLowerCase() === 'charset')) ct.params.push(['charset', 'us-ascii']);
  return ct;
}

export interface Disposition {
  type: string;
  params: Param[];
}

/** Content-Disposition (RFC 2183); null when missing or without a type. */
export function parseDisposition(value: string | null): Disposition | null {
  if (value === null) return null;
  const lx = lex(value);
  const t = lx[0];
  if (t?.k !== 'word') return null;
  return { type: t.v, params: params(lx, 1) };
}

/** Content-Language (RFC 3282): the language tags, or null when there are none. */
export function parseLanguages(value: string | null): string[] | null {
  if (value === null) return null;
  const tags = lex(value)
    .filter((l) => l.k === 'word')
    .map((l) => l.v);
  return tags.length ? tags : null;
}
