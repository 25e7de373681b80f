/**
 * Turns an IMAP server's answers into a canonical text in which only what a client can
 * tell apart remains. Removed or canonicalised, because servers may legitimately differ:
 * - quoting: a quoted string and a literal with the same bytes are the same string;
 * - free text after status responses (`OK Fetch completed (0.001 + 0.000 secs).`): only
 *   the status and its response code are kept;
 * - CAPABILITY lists and ID answers (each server has its own; the CAPABILITY line is not
 *   compared, CONDSTORE/QRESYNC belong to another issue); a tagged OK's [CAPABILITY] code
 *   counts as the untagged CAPABILITY response it stands for (RFC 9051 §7.1);
 * - the order of FETCH data items, of flags in a list, of numbers in SEARCH, of LIST/LSUB
 *   lines in one answer;
 * - \Recent (serve-imap does not keep it: RFC 9051 removed it) and `* n RECENT`;
 * - UIDVALIDITY values: replaced by V1, V2, … in the order they first appear, so equal
 *   values stay equal and different ones different;
 * - the text of a `+` continuation.
 */

type Tok = { t: 'atom'; v: string } | { t: 'string'; v: string } | { t: 'list'; v: Tok[] };

interface Line {
  /** `*`, `+` or the tag. */
  head: string;
  toks: Tok[];
  /** For status responses: the response code's tokens (without the brackets), if any. */
  code: Tok[] | null;
}

class ResponseParser {
  private i = 0;
  constructor(private readonly s: string) {}

  lines(): Line[] {
    const out: Line[] = [];
    while (this.i < this.s.length) out.push(this.line());
    return out;
  }

  private eol(): boolean {
    return this.s.startsWith('\r\n', this.i) || this.s[this.i] === '\n' || this.i >= this.s.length;
  }

  private skipEol(): void {
    if (this.s.startsWith('\r\n', this.i)) this.i += 2;
    else if (this.s[this.i] === '\n') this.i++;
  }

  private restOfLine(): string {
    let j = this.s.indexOf('\n', this.i);
    if (j < 0) j = this.s.length;
    const text = this.s.slice(this.i, j).replace(/\r$/, '');
    this.i = j;
    this.skipEol();
    return text;
  }

  private line(): Line {
    const sp = this.s.indexOf(' ', this.i);
    const nl = this.s.indexOf('\n', this.i);
    if (sp < 0 || (nl >= 0 && nl < sp)) {
      const head = this.restOfLine();
      return { head: head.startsWith('+') ? '+' : head, toks: [], code: null };
    }
    const head = this.s.slice(this.i, sp);
    this.i = sp + 1;
    if (head === '+') {
      this.restOfLine();
      return { head, toks: [], code: null };
    }
    const toks: Tok[] = [];
    let code: Tok[] | null = null;
    // `* 3 EXISTS`, `* OK [...] text`, `A1 NO text`
    const first = this.token();
    toks.push(first);
    const status = first.t === 'atom' && /^(OK|NO|BAD|BYE|PREAUTH)$/i.test(first.v);
    if (!status && first.t === 'atom' && /^\d+$/.test(first.v) && !this.eol()) {
      this.i++;
      toks.push(this.token());
    }
    if (status) {
      if (this.s[this.i] === ' ') this.i++;
      if (this.s[this.i] === '[') {
        this.i++;
        code = [];
        while (this.s[this.i] !== ']' && !this.eol()) {
          code.push(this.token());
          if (this.s[this.i] === ' ') this.i++;
        }
        if (this.s[this.i] === ']') this.i++;
      }
      this.restOfLine(); // the human-readable text
      return { head, toks, code };
    }
    while (!this.eol()) {
      if (this.s[this.i] === ' ') {
        this.i++;
        continue;
      }
      toks.push(this.token());
    }
    this.skipEol();
    return { head, toks, code };
  }

  private token(): Tok {
    const c = this.s[this.i];
    if (c === '(') {
      this.i++;
      const items: Tok[] = [];
      for (;;) {
        while (this.s[this.i] === ' ') this.i++;
        if (this.s[this.i] === ')') {
          this.i++;
          return { t: 'list', v: items };
        }
        if (this.i >= this.s.length || this.eol()) return { t: 'list', v: items }; // unterminated
        items.push(this.token());
      }
    }
    if (c === '"') {
      this.i++;
      let v = '';
      while (this.i < this.s.length && this.s[this.i] !== '"') {
        if (this.s[this.i] === '\\') this.i++;
        v += this.s[this.i++];
      }
      this.i++;
      return { t: 'string', v };
    }
    const lit = /^\{(\d+)\+?\}\r?\n/.exec(this.s.slice(this.i, this.i + 24));
    if (c === '{' && lit) {
      this.i += lit[0].length;
      const v = this.s.slice(this.i, this.i + Number(lit[1]));
      this.i += Number(lit[1]);
      return { t: 'string', v };
    }
    const start = this.i;
    while (this.i < this.s.length && !this.eol() && !' ()"]'.includes(this.s[this.i]!)) {
      if (this.s[this.i] === '[') {
        // BODY[HEADER.FIELDS (A B)]<0>: one atom, brackets and all
        const close = this.s.indexOf(']', this.i);
        this.i = close < 0 ? this.s.length : close;
      }
      this.i++;
    }
    if (this.i === start) this.i++; // a stray character: keep going
    return { t: 'atom', v: this.s.slice(start, this.i) };
  }
}

const isAtom = (t: Tok | undefined, v?: string): t is { t: 'atom'; v: string } => t?.t === 'atom' && (v === undefined || t.v.toUpperCase() === v);

function show(t: Tok): string {
  if (t.t === 'atom') return t.v;
  if (t.t === 'string') return JSON.stringify(t.v);
  return `(${t.v.map(show).join(' ')})`;
}

/** A mailbox name is an astring: `INBOX` and `"INBOX"` are the same name. */
const asString = (t: Tok | undefined): Tok | undefined => (t?.t === 'atom' && t.v.toUpperCase() !== 'NIL' ? { t: 'string', v: t.v } : t);

function flagList(t: Tok): Tok {
  if (t.t !== 'list') return t;
  const flags = t.v.filter((f) => !(f.t === 'atom' && f.v.toLowerCase() === '\\recent'));
  return { t: 'list', v: flags.sort((a, b) => show(a).toLowerCase().localeCompare(show(b).toLowerCase())) };
}

/** Maps each UIDVALIDITY value to V1, V2, … by first appearance, per transcript. */
class ValidityNames {
  private readonly names = new Map<string, string>();
  name(v: string): string {
    let n = this.names.get(v);
    if (!n) this.names.set(v, (n = `V${this.names.size + 1}`));
    return n;
  }
}

function normaliseCode(code: Tok[], validity: ValidityNames): Tok[] {
  const key = isAtom(code[0]) ? code[0].v.toUpperCase() : '';
  if (key === 'CAPABILITY') return [code[0]!, { t: 'atom', v: '…' }];
  if (key === 'PERMANENTFLAGS' && code[1]) return [code[0]!, flagList(code[1])];
  if ((key === 'UIDVALIDITY' || key === 'APPENDUID' || key === 'COPYUID') && isAtom(code[1])) return [code[0]!, { t: 'atom', v: validity.name(code[1].v) }, ...code.slice(2)];
  return code;
}

function normaliseLine(l: Line, validity: ValidityNames): string | null {
  if (l.head === '+') return '+';
  const [a, b] = l.toks;
  if (l.code !== null || (isAtom(a) && /^(OK|NO|BAD|BYE|PREAUTH)$/i.test(a.v))) {
    const code = l.code ? ` [${normaliseCode(l.code, validity).map(show).join(' ')}]` : '';
    return `${l.head} ${show(a!).toUpperCase()}${code}`;
  }
  if (l.head !== '*') return `${l.head} ${l.toks.map(show).join(' ')}`;
  const kind = isAtom(a) ? a.v.toUpperCase() : '';
  if (kind === 'CAPABILITY') return '* CAPABILITY …';
  if (kind === 'ID') return '* ID …';
  if (kind === 'FLAGS' && b) return `* FLAGS ${show(flagList(b))}`;
  if (kind === 'SEARCH') return ['* SEARCH', ...l.toks.slice(1).map(show).sort((x, y) => Number(x) - Number(y))].join(' ');
  if (kind === 'LIST' || kind === 'LSUB') {
    const [, attrs, delimiter, name, ...extended] = l.toks;
    return `* ${kind} ${attrs ? show(flagList(attrs)) : ''} ${[delimiter, asString(name), ...extended].map((t) => (t ? show(t) : '')).join(' ')}`;
  }
  if (kind === 'STATUS') {
    const [, name, items] = l.toks;
    if (!items || items.t !== 'list') return `* ${l.toks.map(show).join(' ')}`;
    const pairs: string[] = [];
    for (let i = 0; i + 1 < items.v.length; i += 2) {
      const k = show(items.v[i]!).toUpperCase();
      const v = k === 'RECENT' ? '_' : k === 'UIDVALIDITY' ? validity.name(show(items.v[i + 1]!)) : show(items.v[i + 1]!);
      pairs.push(`${k} ${v}`);
    }
    return `* STATUS ${show(asString(name)!)} (${pairs.sort().join(' ')})`;
  }
  if (isAtom(b) && b.v.toUpperCase() === 'RECENT') return null;
  if (isAtom(b) && b.v.toUpperCase() === 'FETCH' && l.toks[2]?.t === 'list') {
    const items = l.toks[2].v;
    const pairs: string[] = [];
    for (let i = 0; i + 1 < items.length; i += 2) {
      const k = show(items[i]!).toUpperCase();
      const v = k === 'FLAGS' ? flagList(items[i + 1]!) : items[i + 1]!;
      pairs.push(`${k} ${show(v)}`);
    }
    return `* ${show(a!)} FETCH (${pairs.sort().join(' ')})`;
  }
  return `* ${l.toks.map(show).join(' ')}`;
}

/** A normaliser keeps state across one transcript (the UIDVALIDITY names). */
export class Normaliser {
  private readonly validity = new ValidityNames();

  /** One answer as canonical lines. */
  answer(response: Buffer): string[] {
    const lines = new ResponseParser(response.toString('latin1')).lines();
    const out: string[] = [];
    let listBlock: string[] = [];
    const flushList = (): void => {
      out.push(...listBlock.sort());
      listBlock = [];
    };
    for (const l of lines) {
      if (l.head !== '*' && l.head !== '+' && isAtom(l.code?.[0], 'CAPABILITY')) {
        out.push('* CAPABILITY …');
        l.code = null;
      }
      const n = normaliseLine(l, this.validity);
      if (n === null) continue;
      if (/^\* (LIST|LSUB) /.test(n)) listBlock.push(n);
      else {
        flushList();
        out.push(n);
      }
    }
    flushList();
    return out;
  }
}
