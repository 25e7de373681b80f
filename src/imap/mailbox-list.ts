/**
 * LIST and LSUB answers (RFC 9051 §6.3.9, RFC 3501 §6.3.9, LIST-EXTENDED RFC 5258) from a
 * user's mailbox names and subscriptions; no I/O here. Attributes are what Dovecot 2.3
 * sends: plain LIST says \HasChildren or \HasNoChildren (CHILDREN, RFC 3348), and
 * \Noselect for a level that is no mailbox; extended LIST says only what was asked for,
 * with \NonExistent for such levels.
 */
import { listMatcher } from './list-pattern.js';
import { ImapSyntaxError, imapString, type Token } from './tokens.js';
import { decodeMailboxName, encodeMailboxName } from './utf7.js';

export interface ListRequest {
  reference: string;
  patterns: string[];
  /** Written with selection or return options (RFC 5258), which changes the attributes sent. */
  extended: boolean;
  selectSubscribed: boolean;
  recursiveMatch: boolean;
  returnSubscribed: boolean;
  returnChildren: boolean;
}

const astringOf = (t: Token | undefined, what: string): string => {
  if (!t || t.t === 'list') throw new ImapSyntaxError(`${what} expected`);
  return t.v;
};

function options(t: Token, allowed: ReadonlySet<string>, what: string): Set<string> {
  if (t.t !== 'list') throw new ImapSyntaxError(`${what} options expected`);
  const out = new Set<string>();
  for (const o of t.v) {
    const name = o.t === 'atom' ? o.v.toUpperCase() : '';
    if (!allowed.has(name)) throw new ImapSyntaxError(`unsupported LIST ${what} option`);
    out.add(name);
  }
  return out;
}

const SELECTION = new Set(['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH']);
const RETURN = new Set(['SUBSCRIBED', 'CHILDREN']);

/** LIST arguments, plain (`ref pattern`) or extended (`(sel) ref (patterns) RETURN (ret)`). */
export function parseListArgs(args: Token[]): ListRequest {
  let i = 0;
  let selection = new Set<string>();
  if (args[0]?.t === 'list') selection = options(args[i++]!, SELECTION, 'selection');
  const reference = astringOf(args[i++], 'reference');
  const pat = args[i++];
  const patterns = pat?.t === 'list' ? pat.v.map((p) => astringOf(p, 'mailbox pattern')) : [astringOf(pat, 'mailbox pattern')];
  if (patterns.length === 0) throw new ImapSyntaxError('mailbox pattern expected');
  let ret = new Set<string>();
  const returns = args[i]?.t === 'atom' && (args[i] as { v: string }).v.toUpperCase() === 'RETURN';
  if (returns) {
    const r = args[i + 1];
    if (!r) throw new ImapSyntaxError('RETURN options expected');
    ret = options(r, RETURN, 'return');
    i += 2;
  }
  if (i !== args.length) throw new ImapSyntaxError('unexpected LIST arguments');
  // RFC 5258 §3: RECURSIVEMATCH only refines another selection option.
  if (selection.has('RECURSIVEMATCH') && !selection.has('SUBSCRIBED')) throw new ImapSyntaxError('RECURSIVEMATCH needs SUBSCRIBED');
  return {
    reference,
    patterns,
    extended: args[0]?.t === 'list' || pat?.t === 'list' || returns,
    selectSubscribed: selection.has('SUBSCRIBED'),
    recursiveMatch: selection.has('RECURSIVEMATCH'),
    returnSubscribed: ret.has('SUBSCRIBED') || selection.has('SUBSCRIBED'),
    returnChildren: ret.has('CHILDREN'),
  };
}

/** `a/b/c` → `a`, `a/b` */
function* superiors(name: string, delimiter: string): Generator<string> {
  for (let i = name.indexOf(delimiter); i > 0; i = name.indexOf(delimiter, i + 1)) yield name.slice(0, i);
}

function line(cmd: string, attrs: string[], delimiter: string, name: string, extra = ''): string {
  return `* ${cmd} (${attrs.join(' ')}) "${delimiter}" ${imapString(encodeMailboxName(name))}${extra}\r\n`;
}

function matcher(reference: string, patterns: string[], delimiter: string): (name: string) => boolean {
  const ref = decodeMailboxName(reference) ?? reference;
  const ms = patterns.map((p) => listMatcher(ref, decodeMailboxName(p) ?? p, delimiter));
  return (n) => ms.some((m) => m(n));
}

/** The untagged LIST lines for a request. */
export function listLines(req: ListRequest, mailboxes: readonly string[], subscribed: readonly string[], delimiter: string): string {
  if (req.patterns.length === 1 && req.patterns[0] === '') return `* LIST (\\Noselect) "${delimiter}" ""\r\n`;
  const match = matcher(req.reference, req.patterns, delimiter);
  const exists = new Set(mailboxes);
  const subs = new Set(subscribed);
  const hasChildren = (n: string): boolean => mailboxes.some((o) => o.startsWith(n + delimiter));
  const subscribedBelow = (n: string): boolean => subscribed.some((o) => o.startsWith(n + delimiter));
  // Levels above a mailbox that are no mailbox themselves (made by another tool, or left by
  // a DELETE of a parent) are listed too, so clients can still show the tree.
  const names = new Set<string>();
  const candidates = req.selectSubscribed ? subscribed : mailboxes;
  for (const n of candidates) {
    if (!req.selectSubscribed || req.recursiveMatch) for (const s of superiors(n, delimiter)) names.add(s);
    names.add(n);
  }
  let out = '';
  for (const n of names) {
    if (!match(n)) continue;
    const childInfo = req.recursiveMatch && subscribedBelow(n);
    if (req.selectSubscribed && !subs.has(n) && !childInfo) continue;
    const attrs: string[] = [];
    if (!req.extended) {
      attrs.push(hasChildren(n) ? '\\HasChildren' : '\\HasNoChildren');
      if (!exists.has(n)) attrs.push('\\Noselect');
    } else {
      if (!exists.has(n)) attrs.push('\\NonExistent');
      if (req.returnSubscribed && subs.has(n)) attrs.push('\\Subscribed');
      if (req.returnChildren && exists.has(n)) attrs.push(hasChildren(n) ? '\\HasChildren' : '\\HasNoChildren');
    }
    out += line('LIST', attrs, delimiter, n, childInfo ? ' (CHILDINFO ("SUBSCRIBED"))' : '');
  }
  return out;
}

/**
 * LSUB (RFC 3501 §6.3.9): the subscribed names that match, whether they exist or not; a
 * level above one that `%` stopped at is listed \Noselect when it is not subscribed itself.
 */
export function lsubLines(reference: string, pattern: string, subscribed: readonly string[], delimiter: string): string {
  if (pattern === '') return `* LSUB (\\Noselect) "${delimiter}" ""\r\n`;
  const match = matcher(reference, [pattern], delimiter);
  const subs = new Set(subscribed);
  const out = new Map<string, string[]>();
  for (const n of subscribed) {
    if (match(n)) out.set(n, []);
    else for (const s of superiors(n, delimiter)) if (match(s) && !subs.has(s) && !out.has(s)) out.set(s, ['\\Noselect']);
  }
  return [...out].map(([n, attrs]) => line('LSUB', attrs, delimiter, n)).join('');
}
