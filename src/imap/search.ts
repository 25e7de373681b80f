import { fieldValue, parseMessage, withCrlf, type MimePart } from './mime.js';
import { bodyTexts, charsetDecoder, decodeHeaderValue, fold, headerTexts, squeeze, type Decode } from './search-text.js';
import { modseqValue } from './condstore.js';
import { resolveSet } from './sequence.js';
import { ImapSyntaxError, type Token } from './tokens.js';

/** What a search key sees of one message. */
export interface SearchTarget {
  index: number;
  uid: number;
  flags: readonly string[];
  /** With CRLF line ends, as RFC822.SIZE. */
  size: number;
  internalDate: Date;
  raw: Buffer | null;
  /** The message's MODSEQ (RFC 7162). */
  modseq: number;
}

export interface CompiledSearch {
  needsContent: boolean;
  /** LARGER or SMALLER: the target's `size` must be RFC822.SIZE. */
  needsSize: boolean;
  /** A MODSEQ key was used: the answer carries the highest modseq found (RFC 7162 §3.1.5). */
  usesModseq: boolean;
  test: (m: SearchTarget) => boolean;
}

/** SEARCH CHARSET names a charset we cannot decode: a tagged NO [BADCHARSET] (RFC 9051 §6.4.4). */
export class UnknownCharsetError extends Error {}

type Pred = (m: SearchTarget) => boolean;

const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };

function parseDate(tok: Token | undefined): number {
  const m = tok && tok.t !== 'list' ? /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(tok.v) : null;
  const month = m ? MONTHS[m[2]!.toLowerCase()] : undefined;
  if (!m || month === undefined) throw new ImapSyntaxError('bad date (expected d-Mon-yyyy)');
  return Date.UTC(Number(m[3]), month, Number(m[1]));
}

const dayOf = (d: Date): number => Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());

/**
 * The day a Date header names, as written in its own zone (RFC 9051: "disregarding time and
 * timezone"). Without a readable Date header a message was sent on 1 January 1970, as
 * Dovecot has it.
 */
function sentDay(date: string | null): number {
  const m = date && /^\s*(?:[A-Za-z]{3}\s*,\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{2,4})\s+\d{1,2}:\d{2}/.exec(date);
  const month = m ? MONTHS[m[2]!.toLowerCase()] : undefined;
  if (!m || month === undefined) return 0;
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900; // RFC 5322 §4.3
  else if (m[3]!.length === 3) year += 1900;
  return Date.UTC(year, month, Number(m[1]));
}

const hasFlag = (flag: string): Pred => {
  const f = flag.toLowerCase();
  return (m) => m.flags.some((x) => x.toLowerCase() === f);
};

/** The message behind a target, parsed once however many keys look at it. */
function messageCache(): (m: SearchTarget) => MimePart | null {
  const parsed = new WeakMap<SearchTarget, MimePart | null>();
  return (m) => {
    let p = parsed.get(m);
    if (p === undefined) parsed.set(m, (p = m.raw ? parseMessage(withCrlf(m.raw)) : null));
    return p;
  };
}

function number(tokens: Token[], i: number): number {
  const t = tokens[i];
  if (!t || t.t === 'list' || !/^\d{1,20}$/.test(t.v)) throw new ImapSyntaxError('number expected');
  return Number(t.v);
}

/** Compiles SEARCH criteria (RFC 9051 §6.4.4); `uids` is the session's view for sequence sets. */
export function compileSearch(tokens: Token[], uids: readonly number[]): CompiledSearch {
  let i = 0;
  let decoder: Decode | null = null;
  if (tokens[0]?.t === 'atom' && tokens[0].v.toUpperCase() === 'CHARSET') {
    const cs = tokens[1];
    if (!cs || cs.t === 'list') throw new ImapSyntaxError('charset expected');
    decoder = charsetDecoder(cs.v);
    if (!decoder) throw new UnknownCharsetError(`unknown charset ${cs.v.slice(0, 40)}`);
    i = 2;
  }
  const state = { needsContent: false, needsSize: false, usesModseq: false };
  const test = compileKeys(tokens, i, uids, decoder, messageCache(), state, 0);
  return { needsContent: state.needsContent, needsSize: state.needsSize, usesModseq: state.usesModseq, test };
}

function compileKeys(
  tokens: Token[],
  start: number,
  uids: readonly number[],
  decoder: Decode | null,
  message: (m: SearchTarget) => MimePart | null,
  state: { needsContent: boolean; needsSize: boolean; usesModseq: boolean },
  nesting: number,
): Pred {
  let i = start;
  const str = (): string => {
    const t = tokens[i++];
    if (!t || t.t === 'list') throw new ImapSyntaxError('search string expected');
    // Literals keep their bytes, so another CHARSET can be honoured; quoted text is UTF-8.
    const text = t.t === 'string' && t.raw && decoder ? decoder(t.raw) : t.v;
    return fold(text);
  };
  const content = (f: (p: MimePart, needle: string) => boolean, needle: string): Pred => {
    state.needsContent = true;
    return (m) => {
      const p = message(m);
      return p !== null && f(p, needle);
    };
  };
  /** The top-level header fields of that name, decoded; an empty needle asks only that one exists. */
  const header = (name: string, needle: string): Pred => {
    const lower = name.toLowerCase();
    const want = squeeze(needle);
    return content((p) => p.fields.some((f) => f.name.toLowerCase() === lower && fold(squeeze(decodeHeaderValue(f.value))).includes(want)), needle);
  };

  function key(depth: number): Pred {
    if (depth > 32) throw new ImapSyntaxError('search nested too deep');
    const t = tokens[i++];
    if (!t) throw new ImapSyntaxError('search key expected');
    if (t.t === 'list') {
      if (t.v.length === 0) throw new ImapSyntaxError('empty search key list');
      return compileKeys(t.v, 0, uids, decoder, message, state, nesting + 1);
    }
    if (t.t === 'string') throw new ImapSyntaxError('search key expected');
    const k = t.v.toUpperCase();
    switch (k) {
      case 'ALL':
        return () => true;
      case 'ANSWERED':
      case 'DELETED':
      case 'DRAFT':
      case 'FLAGGED':
      case 'SEEN':
        return hasFlag('\\' + k);
      case 'UNANSWERED':
      case 'UNDELETED':
      case 'UNDRAFT':
      case 'UNFLAGGED':
      case 'UNSEEN': {
        const p = hasFlag('\\' + k.slice(2));
        return (m) => !p(m);
      }
      case 'NEW':
      case 'RECENT':
        return () => false; // \Recent is not kept
      case 'OLD':
        return () => true;
      case 'KEYWORD':
        return hasFlag(str());
      case 'UNKEYWORD': {
        const p = hasFlag(str());
        return (m) => !p(m);
      }
      case 'LARGER': {
        state.needsSize = true;
        const n = number(tokens, i++);
        return (m) => m.size > n;
      }
      case 'SMALLER': {
        state.needsSize = true;
        const n = number(tokens, i++);
        return (m) => m.size < n;
      }
      case 'BEFORE':
      case 'ON':
      case 'SINCE': {
        const d = parseDate(tokens[i++]);
        return k === 'BEFORE' ? (m) => dayOf(m.internalDate) < d : k === 'ON' ? (m) => dayOf(m.internalDate) === d : (m) => dayOf(m.internalDate) >= d;
      }
      case 'SENTBEFORE':
      case 'SENTON':
      case 'SENTSINCE': {
        const d = parseDate(tokens[i++]);
        const cmp = k === 'SENTBEFORE' ? (day: number) => day < d : k === 'SENTON' ? (day: number) => day === d : (day: number) => day >= d;
        return content((p) => cmp(sentDay(fieldValue(p.fields, 'date'))), '');
      }
      case 'FROM':
      case 'TO':
      case 'CC':
      case 'BCC':
      case 'SUBJECT':
        return header(k, str());
      case 'HEADER': {
        const t2 = tokens[i++];
        if (!t2 || t2.t === 'list') throw new ImapSyntaxError('header name expected');
        return header(t2.v, str());
      }
      case 'BODY':
        return content((p, needle) => bodyTexts(p).some((text) => fold(text).includes(needle)), str());
      case 'TEXT':
        return content((p, needle) => [...headerTexts(p), ...bodyTexts(p)].some((text) => fold(text).includes(needle)), str());
      case 'UID': {
        const set = tokens[i++];
        if (!set || set.t === 'list') throw new ImapSyntaxError('UID set expected');
        const hit = new Set(resolveSet(set.v, uids, true));
        return (m) => hit.has(m.index);
      }
      case 'MODSEQ': {
        // MODSEQ [entry-name entry-type] n: flags are per message here, so every entry
        // name means the message's own modseq (as Dovecot answers it).
        if (tokens[i]?.t === 'string') {
          const type = tokens[i + 1];
          if (!type || type.t !== 'atom' || !/^(priv|shared|all)$/i.test(type.v)) throw new ImapSyntaxError('MODSEQ entry type must be priv, shared or all');
          i += 2;
        }
        const min = modseqValue(tokens[i++], 'MODSEQ', true);
        state.usesModseq = true;
        return (m) => m.modseq >= min;
      }
      case 'NOT': {
        const p = key(depth + 1);
        return (m) => !p(m);
      }
      case 'OR': {
        const a = key(depth + 1);
        const b = key(depth + 1);
        return (m) => a(m) || b(m);
      }
      default: {
        if (/^[0-9*:,]+$/.test(t.v)) {
          const hit = new Set(resolveSet(t.v, uids, false));
          return (m) => hit.has(m.index);
        }
        throw new ImapSyntaxError(`unknown search key ${t.v.slice(0, 30)}`);
      }
    }
  }

  if (nesting > 32) throw new ImapSyntaxError('search nested too deep');
  const preds: Pred[] = [];
  while (i < tokens.length) preds.push(key(0));
  if (preds.length === 0) throw new ImapSyntaxError('search criteria expected');
  return (m) => preds.every((p) => p(m));
}
