import { headerValue, splitMessage } from './mime.js';
import { resolveSet } from './sequence.js';
import { ImapSyntaxError, type Token } from './tokens.js';

/** What a search key sees of one message. */
export interface SearchTarget {
  index: number;
  uid: number;
  flags: readonly string[];
  size: number;
  internalDate: Date;
  raw: Buffer | null;
}

export interface CompiledSearch {
  needsContent: boolean;
  test: (m: SearchTarget) => boolean;
}

type Pred = (m: SearchTarget) => boolean;

const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };

function parseDate(tok: Token | undefined): number {
  const m = tok && tok.t !== 'list' ? /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(tok.v) : null;
  const month = m ? MONTHS[m[2]!.toLowerCase()] : undefined;
  if (!m || month === undefined) throw new ImapSyntaxError('bad date (expected d-Mon-yyyy)');
  return Date.UTC(Number(m[3]), month, Number(m[1]));
}

const dayOf = (d: Date): number => Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());

const hasFlag = (flag: string): Pred => {
  const f = flag.toLowerCase();
  return (m) => m.flags.some((x) => x.toLowerCase() === f);
};

/** Compiles SEARCH criteria (RFC 9051 §6.4.4); `uids` is the session's view for sequence sets. */
export function compileSearch(tokens: Token[], uids: readonly number[]): CompiledSearch {
  let i = 0;
  let needsContent = false;
  if (tokens[0]?.t === 'atom' && tokens[0].v.toUpperCase() === 'CHARSET') {
    const cs = tokens[1];
    if (!cs || cs.t === 'list' || !/^(utf-8|us-ascii)$/i.test(cs.v)) throw new ImapSyntaxError('[BADCHARSET (UTF-8 US-ASCII)] unsupported charset');
    i = 2;
  }
  const str = (): string => {
    const t = tokens[i++];
    if (!t || t.t === 'list') throw new ImapSyntaxError('search string expected');
    return t.v.toLowerCase();
  };
  const text = (pick: (raw: Buffer) => string): ((needle: string) => Pred) => {
    needsContent = true;
    return (needle) => (m) => m.raw !== null && pick(m.raw).toLowerCase().includes(needle);
  };
  const header = (name: string) => text((raw) => headerValue(splitMessage(raw).header, name) ?? '');

  function key(depth: number): Pred {
    if (depth > 32) throw new ImapSyntaxError('search nested too deep');
    const t = tokens[i++];
    if (!t) throw new ImapSyntaxError('search key expected');
    if (t.t === 'list') {
      const sub = compileSearch(t.v, uids);
      if (sub.needsContent) needsContent = true;
      return sub.test;
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
        const n = Number(str());
        return (m) => m.size > n;
      }
      case 'SMALLER': {
        const n = Number(str());
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
        needsContent = true;
        return (m) => {
          const v = m.raw ? headerValue(splitMessage(m.raw).header, 'date') : null;
          const t2 = v ? Date.parse(v) : NaN;
          if (Number.isNaN(t2)) return false;
          const day = dayOf(new Date(t2));
          return k === 'SENTBEFORE' ? day < d : k === 'SENTON' ? day === d : day >= d;
        };
      }
      case 'FROM':
      case 'TO':
      case 'CC':
      case 'BCC':
      case 'SUBJECT':
        return header(k.toLowerCase())(str());
      case 'HEADER': {
        const name = str();
        return header(name)(str());
      }
      case 'BODY':
        return text((raw) => splitMessage(raw).body.toString('utf8'))(str());
      case 'TEXT':
        return text((raw) => raw.toString('utf8'))(str());
      case 'UID': {
        const set = str();
        const hit = new Set(resolveSet(set, uids, true));
        return (m) => hit.has(m.index);
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

  const preds: Pred[] = [];
  while (i < tokens.length) preds.push(key(0));
  if (preds.length === 0) throw new ImapSyntaxError('search criteria expected');
  return { needsContent, test: (m) => preds.every((p) => p(m)) };
}
