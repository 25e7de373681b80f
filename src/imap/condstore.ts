import { lowerBound } from '../tracker/sorted-uids.js';
import { UidSet, type Uid } from '../update/uid-set.js';
import { ImapSyntaxError, type Token } from './tokens.js';

/*
 * The syntax of CONDSTORE and QRESYNC (RFC 7162) that serve-imap takes: SELECT/EXAMINE
 * parameters, FETCH and STORE modifiers, mod-sequence values. What the commands then do
 * lives in the session; the answers follow Dovecot 2.3's, checked side by side.
 */

/** RFC 7162 mod-sequence-value: 1*DIGIT up to 2^63-1; here up to 2^53-1 (the store's bound). */
export function modseqValue(tok: Token | undefined, what: string, allowZero = false): number {
  if (!tok || tok.t !== 'atom' || !/^\d{1,16}$/.test(tok.v)) throw new ImapSyntaxError(`${what}: a mod-sequence value expected`);
  const n = Number(tok.v);
  if (!Number.isSafeInteger(n) || (n === 0 && !allowZero)) throw new ImapSyntaxError(`${what}: mod-sequence value out of range`);
  return n;
}

function uidSetOf(tok: Token | undefined, what: string): UidSet {
  if (!tok || tok.t !== 'atom' || !/^[0-9:,]+$/.test(tok.v)) throw new ImapSyntaxError(`${what}: a UID set expected`);
  try {
    return UidSet.parse(tok.v);
  } catch {
    throw new ImapSyntaxError(`${what}: a UID set expected`);
  }
}

/** What a client resynchronising with QRESYNC says it knows (RFC 7162 §3.2.5). */
export interface QresyncParams {
  uidValidity: number;
  modseq: number;
  /** Restricts what VANISHED (EARLIER) and the FETCHes report; all UIDs when absent. */
  knownUids: UidSet | null;
}

export interface SelectParams {
  condstore: boolean;
  qresync: QresyncParams | null;
}

/** `SELECT name [(CONDSTORE | QRESYNC (uidvalidity modseq [known-uids [seq-match]]))]`. */
export function parseSelectParams(tok: Token | undefined): SelectParams {
  const out: SelectParams = { condstore: false, qresync: null };
  if (tok === undefined) return out;
  if (tok.t !== 'list') throw new ImapSyntaxError('SELECT parameters must be a list');
  for (let i = 0; i < tok.v.length; i++) {
    const p = tok.v[i]!;
    const name = p.t === 'atom' ? p.v.toUpperCase() : '';
    if (name === 'CONDSTORE') out.condstore = true;
    else if (name === 'QRESYNC') {
      const q = tok.v[++i];
      if (!q || q.t !== 'list' || q.v.length < 2 || q.v.length > 4) throw new ImapSyntaxError('QRESYNC (uidvalidity modseq [known-uids [seq-match-data]]) expected');
      const uv = q.v[0]!;
      if (uv.t !== 'atom' || !/^[1-9]\d{0,9}$/.test(uv.v) || Number(uv.v) > 0xffff_ffff) throw new ImapSyntaxError('QRESYNC: bad UIDVALIDITY');
      const knownUids = q.v[2] === undefined ? null : uidSetOf(q.v[2], 'QRESYNC known UIDs');
      // seq-match-data is a hint for servers that cannot tell expunges apart; this one can.
      if (q.v[3] !== undefined && (q.v[3].t !== 'list' || q.v[3].v.length !== 2)) throw new ImapSyntaxError('QRESYNC: bad sequence match data');
      out.qresync = { uidValidity: Number(uv.v), modseq: modseqValue(q.v[1], 'QRESYNC', true), knownUids };
    } else throw new ImapSyntaxError(`unknown SELECT parameter ${name.slice(0, 30) || 'list'}`);
  }
  return out;
}

export interface FetchModifiers {
  changedSince: number | null;
  vanished: boolean;
}

/** `FETCH set items [(CHANGEDSINCE m [VANISHED])]`. */
export function parseFetchModifiers(tok: Token | undefined): FetchModifiers {
  const out: FetchModifiers = { changedSince: null, vanished: false };
  if (tok === undefined) return out;
  if (tok.t !== 'list' || tok.v.length === 0) throw new ImapSyntaxError('FETCH modifiers must be a list');
  for (let i = 0; i < tok.v.length; i++) {
    const p = tok.v[i]!;
    const name = p.t === 'atom' ? p.v.toUpperCase() : '';
    if (name === 'CHANGEDSINCE') out.changedSince = modseqValue(tok.v[++i], 'CHANGEDSINCE', true);
    else if (name === 'VANISHED') out.vanished = true;
    else throw new ImapSyntaxError('unknown FETCH modifier');
  }
  if (out.vanished && out.changedSince === null) throw new ImapSyntaxError('VANISHED needs CHANGEDSINCE');
  return out;
}

/** `STORE set [(UNCHANGEDSINCE m)] item flags`: the modifier, and the arguments after it. */
export function parseStoreModifier(args: Token[]): { unchangedSince: number | null; rest: Token[] } {
  const first = args[0];
  if (!first || first.t !== 'list') return { unchangedSince: null, rest: args };
  const name = first.v[0]?.t === 'atom' ? first.v[0].v.toUpperCase() : '';
  if (name !== 'UNCHANGEDSINCE' || first.v.length !== 2) throw new ImapSyntaxError('unknown STORE modifier');
  return { unchangedSince: modseqValue(first.v[1], 'UNCHANGEDSINCE', true), rest: args.slice(1) };
}

/**
 * The UIDs a QRESYNC client must be told are gone (VANISHED (EARLIER)): from the
 * expunge history when it reaches back to `since` (`history`); otherwise every UID it may
 * know (`scope`, else everything below UIDNEXT) that does not exist now, which
 * over-reports but never misses (RFC 7162 §3.2.5.2 allows that). `existing` ascending.
 */
export function vanishedUids(history: readonly Uid[] | null, scope: UidSet | null, uidNext: number, existing: readonly Uid[]): string | null {
  if (history !== null) {
    const here = new Set(existing);
    const out = history.filter((u) => (scope === null || scope.has(u)) && !here.has(u));
    return out.length === 0 ? null : UidSet.parse(out).toString();
  }
  // The gaps between existing UIDs, range by range: "1:4294967295" stays cheap.
  const gaps: string[] = [];
  const ranges: readonly (readonly [number, number])[] = scope === null ? [[1, uidNext - 1]] : scope.ranges;
  for (const [first, rawLast] of ranges) {
    const last = Math.min(rawLast, uidNext - 1);
    let next = first;
    let i = lowerBound(existing, first);
    for (; i < existing.length && existing[i]! <= last; i++) {
      if (existing[i]! > next) gaps.push(existing[i]! - 1 > next ? `${next}:${existing[i]! - 1}` : `${next}`);
      next = existing[i]! + 1;
    }
    if (next <= last) gaps.push(last > next ? `${next}:${last}` : `${next}`);
  }
  // Already canonical (ascending, disjoint, never adjacent: an existing UID separates
  // them), and not parsed again: a set of our own making needs no input limit.
  return gaps.length === 0 ? null : gaps.join(',');
}
