import { bodyStructure } from './body-structure.js';
import { envelope } from './envelope.js';
import { parseMessage, withCrlf, type MimePart } from './mime.js';
import { ImapSyntaxError, type Token } from './tokens.js';

/** One FETCH data item (RFC 9051 §6.4.5), parsed. */
export type FetchItem =
  | { kind: 'flags' | 'uid' | 'size' | 'internaldate' | 'envelope' | 'bodystructure' | 'body' | 'modseq' }
  | { kind: 'section'; label: string; path: number[]; spec: SectionSpec; fields: string[]; peek: boolean; partial: [number, number] | null };

type SectionSpec = '' | 'HEADER' | 'TEXT' | 'MIME' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT';

export interface MessageData {
  uid: number;
  flags: string[];
  /** RFC822.SIZE: the size with CRLF line ends (see `withCrlf`). */
  size: number;
  internalDate: Date;
  modseq: number;
}

const SIMPLE: Record<string, FetchItem['kind']> = {
  FLAGS: 'flags',
  UID: 'uid',
  'RFC822.SIZE': 'size',
  INTERNALDATE: 'internaldate',
  ENVELOPE: 'envelope',
  BODYSTRUCTURE: 'bodystructure',
  BODY: 'body',
  MODSEQ: 'modseq',
};

const SECTION = /^(BODY(?:\.PEEK)?)\[([^\]]*)\](?:<(\d{1,10})(?:\.(\d{1,10}))?>)?$/i;

function parseItem(text: string): FetchItem[] {
  const up = text.toUpperCase();
  switch (up) {
    case 'ALL':
      return ['flags', 'internaldate', 'size', 'envelope'].map((kind) => ({ kind }) as FetchItem);
    case 'FAST':
      return ['flags', 'internaldate', 'size'].map((kind) => ({ kind }) as FetchItem);
    case 'FULL':
      return ['flags', 'internaldate', 'size', 'envelope', 'body'].map((kind) => ({ kind }) as FetchItem);
    case 'RFC822':
      return [section('RFC822', '', false, null)];
    case 'RFC822.HEADER':
      return [section('RFC822.HEADER', 'HEADER', true, null)];
    case 'RFC822.TEXT':
      return [section('RFC822.TEXT', 'TEXT', false, null)];
  }
  const simple = SIMPLE[up];
  if (simple) return [{ kind: simple } as FetchItem];
  const m = SECTION.exec(text);
  if (!m) throw new ImapSyntaxError(`unknown FETCH item ${text.slice(0, 40)}`);
  const peek = m[1]!.toUpperCase() === 'BODY.PEEK';
  const partial: [number, number] | null = m[3] !== undefined ? [Number(m[3]), m[4] !== undefined ? Number(m[4]) : Infinity] : null;
  return [section(null, m[2]!, peek, partial)];
}

function section(label: string | null, inner: string, peek: boolean, partial: [number, number] | null): FetchItem {
  const m = /^((?:\d+\.)*\d+)?\.?(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)?(?:\s*\(([^)]*)\))?$/i.exec(inner.trim());
  if (!m) throw new ImapSyntaxError(`bad section [${inner.slice(0, 40)}]`);
  const path = m[1] ? m[1].split('.').map(Number) : [];
  if (path.some((n) => n < 1 || n > 10_000)) throw new ImapSyntaxError('bad section part number');
  const spec = (m[2]?.toUpperCase() ?? '') as SectionSpec;
  if (spec === 'MIME' && path.length === 0) throw new ImapSyntaxError('MIME needs a part number');
  const fields = m[3] ? m[3].trim().split(/\s+/).filter(Boolean).map((f) => f.replace(/^"|"$/g, '')) : [];
  if ((spec === 'HEADER.FIELDS' || spec === 'HEADER.FIELDS.NOT') && fields.length === 0) throw new ImapSyntaxError('HEADER.FIELDS needs field names');
  const specText = `${path.join('.')}${path.length && spec ? '.' : ''}${spec}${fields.length ? ` (${fields.join(' ')})` : ''}`;
  return { kind: 'section', label: label ?? `BODY[${specText}]`, path, spec, fields, peek, partial };
}

export function parseFetchItems(tok: Token | undefined): FetchItem[] {
  if (!tok) throw new ImapSyntaxError('FETCH items expected');
  if (tok.t === 'atom') return parseItem(tok.v);
  if (tok.t === 'list') {
    if (tok.v.length === 0) throw new ImapSyntaxError('empty FETCH item list');
    return tok.v.flatMap((t) => {
      if (t.t !== 'atom') throw new ImapSyntaxError('FETCH items are atoms');
      return parseItem(t.v);
    });
  }
  throw new ImapSyntaxError('FETCH items expected');
}

export const needsContent = (items: FetchItem[]): boolean =>
  items.some((i) => i.kind === 'section' || i.kind === 'envelope' || i.kind === 'bodystructure' || i.kind === 'body');

/** Whether answering these items sets \Seen (RFC 9051 §6.4.5: BODY[...] without PEEK). */
export const setsSeen = (items: FetchItem[]): boolean => items.some((i) => i.kind === 'section' && !i.peek);

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

export function imapDate(d: Date): string {
  return `"${pad(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000"`;
}

/**
 * Renders `* n FETCH (...)` with binary-safe literals. `raw` is the message as stored; it
 * is answered with CRLF line ends.
 */
export function renderFetch(seq: number, items: FetchItem[], msg: MessageData, raw: Buffer | null): Buffer {
  const out: Buffer[] = [Buffer.from(`* ${seq} FETCH (`)];
  const add = (s: string | Buffer): void => {
    // Response text built from message bytes is latin1 (a character per byte).
    out.push(typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
  };
  const content = raw ? withCrlf(raw) : null;
  let root: MimePart | null = null;
  const message = (): MimePart => (root ??= parseMessage(content!));
  items.forEach((item, i) => {
    if (i > 0) add(' ');
    switch (item.kind) {
      case 'flags':
        add(`FLAGS (${msg.flags.join(' ')})`);
        break;
      case 'uid':
        add(`UID ${msg.uid}`);
        break;
      case 'size':
        add(`RFC822.SIZE ${msg.size}`);
        break;
      case 'internaldate':
        add(`INTERNALDATE ${imapDate(msg.internalDate)}`);
        break;
      case 'modseq':
        add(`MODSEQ (${msg.modseq})`);
        break;
      case 'envelope':
        add(`ENVELOPE ${envelope(message().fields)}`);
        break;
      case 'bodystructure':
        add(`BODYSTRUCTURE ${bodyStructure(message(), true)}`);
        break;
      case 'body':
        add(`BODY ${bodyStructure(message(), false)}`);
        break;
      case 'section': {
        let data = sectionData(content!, message(), item);
        let label = item.label;
        if (item.partial) {
          const [start, len] = item.partial;
          data = data.subarray(Math.min(start, data.length), Math.min(data.length, start + len));
          label += `<${start}>`;
        }
        add(`${label} {${data.length}}\r\n`);
        add(data);
        break;
      }
    }
  });
  add(')\r\n');
  return Buffer.concat(out);
}

const isMultipart = (p: MimePart): boolean => p.contentType.type.toLowerCase() === 'multipart';
const isMessage = (p: MimePart): boolean => p.contentType.type.toLowerCase() === 'message' && p.contentType.subtype.toLowerCase() === 'rfc822';

/**
 * The part a section path names (RFC 9051 §6.4.5), resolved as Dovecot does: a multipart's
 * n-th body part; in a part that is not multipart only "1", meaning the part itself; a path
 * that goes on below a message/rfc822 part continues in the message it carries.
 */
function partAt(root: MimePart, path: readonly number[]): MimePart | null {
  let part: MimePart | null = root;
  for (let k = 0; k < path.length && part; k++) {
    const more = k + 1 < path.length;
    if (isMultipart(part)) part = part.parts[path[k]! - 1] ?? null;
    else if (path[k] !== 1 || (more && !isMessage(part))) return null;
    if (part && more && isMessage(part)) part = part.message;
  }
  return part;
}

function sectionData(raw: Buffer, root: MimePart, item: Extract<FetchItem, { kind: 'section' }>): Buffer {
  const none = Buffer.alloc(0);
  if (item.path.length === 0 && item.spec === '') return raw;
  const part = item.path.length === 0 ? root : partAt(root, item.path);
  if (!part) return none;
  if (item.spec === '') return part.body;
  if (item.spec === 'MIME') return part.header;
  // HEADER, TEXT and HEADER.FIELDS below the top need a message/rfc822 part: its message's.
  const msg = item.path.length === 0 ? part : isMessage(part) ? part.message : null;
  if (!msg) return none;
  switch (item.spec) {
    case 'HEADER':
      return msg.header;
    case 'TEXT':
      return msg.body;
    default:
      return filterHeader(msg, item.fields, item.spec === 'HEADER.FIELDS.NOT');
  }
}

/**
 * HEADER.FIELDS ends with the empty line always, HEADER.FIELDS.NOT only when the header
 * had one: what Dovecot sends.
 */
function filterHeader(msg: MimePart, names: string[], not: boolean): Buffer {
  const want = new Set(names.map((f) => f.toLowerCase()));
  const kept = msg.fields.filter((f) => want.has(f.name.toLowerCase()) !== not);
  const end = !not || msg.headerEnded ? '\r\n' : '';
  return Buffer.from(kept.map((f) => f.raw + '\r\n').join('') + end, 'latin1');
}
