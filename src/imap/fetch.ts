import { countLines, headerFields, headerValue, parseMime, splitMessage, type MimePart } from './mime.js';
import { ImapSyntaxError, imapString, type Token } from './tokens.js';

/** One FETCH data item (RFC 9051 §6.4.5), parsed. */
export type FetchItem =
  | { kind: 'flags' | 'uid' | 'size' | 'internaldate' | 'envelope' | 'bodystructure' | 'body' }
  | { kind: 'section'; label: string; path: number[]; spec: SectionSpec; fields: string[]; peek: boolean; partial: [number, number] | null };

type SectionSpec = '' | 'HEADER' | 'TEXT' | 'MIME' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT';

export interface MessageData {
  uid: number;
  flags: string[];
  size: number;
  internalDate: Date;
}

const SIMPLE: Record<string, FetchItem['kind']> = {
  FLAGS: 'flags',
  UID: 'uid',
  'RFC822.SIZE': 'size',
  INTERNALDATE: 'internaldate',
  ENVELOPE: 'envelope',
  BODYSTRUCTURE: 'bodystructure',
  BODY: 'body',
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

/** Renders `* n FETCH (...)` with binary-safe literals. */
export function renderFetch(seq: number, items: FetchItem[], msg: MessageData, raw: Buffer | null): Buffer {
  const out: Buffer[] = [Buffer.from(`* ${seq} FETCH (`)];
  let first = true;
  const add = (s: string | Buffer): void => {
    out.push(typeof s === 'string' ? Buffer.from(s, 'utf8') : s);
  };
  const parts = raw ? parseMime(raw) : null;
  for (const item of items) {
    if (!first) add(' ');
    first = false;
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
      case 'envelope':
        add(`ENVELOPE ${envelope(parts!.header)}`);
        break;
      case 'bodystructure':
        add(`BODYSTRUCTURE ${bodyStructure(parts!)}`);
        break;
      case 'body':
        add(`BODY ${bodyStructure(parts!)}`);
        break;
      case 'section': {
        let data = sectionData(raw!, parts!, item);
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
  }
  add(')\r\n');
  return Buffer.concat(out);
}

function partAt(root: MimePart, path: number[]): MimePart | null {
  let p: MimePart = root;
  for (const n of path) {
    const kids = p.type === 'message' ? (p.children[0]?.children ?? []) : p.children;
    if (kids.length === 0 && n === 1 && p === root) continue; // single-part: part 1 is the body
    const next = kids[n - 1];
    if (!next) return null;
    p = next;
  }
  return p;
}

function sectionData(raw: Buffer, root: MimePart, item: Extract<FetchItem, { kind: 'section' }>): Buffer {
  if (item.path.length === 0) {
    const { header, body } = splitMessage(raw);
    switch (item.spec) {
      case '':
        return raw;
      case 'TEXT':
        return body;
      case 'HEADER':
        return header;
      default:
        return filterHeader(header, item.fields, item.spec === 'HEADER.FIELDS.NOT');
    }
  }
  const part = partAt(root, item.path);
  if (!part) return Buffer.alloc(0);
  const inner = part.type === 'message' && part.subtype === 'rfc822' ? part.children[0] : null;
  switch (item.spec) {
    case '':
      return part.body;
    case 'MIME':
      return part.header;
    case 'HEADER':
      return inner?.header ?? Buffer.alloc(0);
    case 'TEXT':
      return inner?.body ?? Buffer.alloc(0);
    default:
      return inner ? filterHeader(inner.header, item.fields, item.spec === 'HEADER.FIELDS.NOT') : Buffer.alloc(0);
  }
}

function filterHeader(header: Buffer, fields: string[], not: boolean): Buffer {
  const want = new Set(fields.map((f) => f.toLowerCase()));
  const kept = headerFields(header).filter((f) => want.has(f.name.toLowerCase()) !== not);
  return Buffer.from(kept.map((f) => f.raw + '\r\n').join('') + '\r\n', 'latin1');
}

// ---- ENVELOPE ---------------------------------------------------------------------------

function nstring(v: string | null): string {
  return v === null || v === '' ? 'NIL' : imapString(v);
}

function envelope(header: Buffer): string {
  const h = (n: string): string | null => headerValue(header, n);
  const from = addresses(h('from'));
  const sender = addresses(h('sender')) ?? from;
  const replyTo = addresses(h('reply-to')) ?? from;
  return `(${[
    nstring(h('date')),
    nstring(h('subject')),
    from ?? 'NIL',
    sender ?? 'NIL',
    replyTo ?? 'NIL',
    addresses(h('to')) ?? 'NIL',
    addresses(h('cc')) ?? 'NIL',
    addresses(h('bcc')) ?? 'NIL',
    nstring(h('in-reply-to')),
    nstring(h('message-id')),
  ].join(' ')})`;
}

/** `"A" <a@x>, b@y` → `(("A" NIL "a" "x")(NIL NIL "b" "y"))`; groups are flattened. */
function addresses(value: string | null): string | null {
  if (!value) return null;
  const out: string[] = [];
  for (const item of splitAddresses(value)) {
    let name: string | null = null;
    let addr = item.trim();
    const angle = /^(.*)<([^>]*)>\s*$/.exec(addr);
    if (angle) {
      name = angle[1]!.trim().replace(/^"(.*)"$/, '$1') || null;
      addr = angle[2]!.trim();
    } else {
      addr = addr.replace(/\s*\(.*\)\s*$/, '');
    }
    const colon = addr.indexOf(':'); // group syntax "name: a@b"
    if (colon >= 0 && !addr.includes('@', colon) && !angle) continue;
    const at = addr.lastIndexOf('@');
    const mailbox = at >= 0 ? addr.slice(0, at) : addr;
    const host = at >= 0 ? addr.slice(at + 1) : null;
    if (!mailbox) continue;
    out.push(`(${nstring(name)} NIL ${nstring(mailbox)} ${nstring(host)})`);
    if (out.length >= 1000) break;
  }
  return out.length ? `(${out.join('')})` : null;
}

function splitAddresses(v: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  let angle = 0;
  for (const c of v.replace(/^[^:<>"]*:(?=[^;]*;?\s*$)/, '').replace(/;\s*$/, '')) {
    if (c === '"') q = !q;
    else if (!q && c === '<') angle++;
    else if (!q && c === '>') angle = Math.max(0, angle - 1);
    if (c === ',' && !q && angle === 0) {
      if (cur.trim()) out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur.trim()) out.push(cur);
  return out;
}

// ---- BODYSTRUCTURE ------------------------------------------------------------------------

function bodyStructure(p: MimePart): string {
  if (p.type === 'multipart' && p.children.length > 0) {
    return `(${p.children.map(bodyStructure).join('')} ${imapString(p.subtype.toUpperCase())})`;
  }
  const params = p.params.size ? `(${[...p.params].map(([k, v]) => `${imapString(k.toUpperCase())} ${imapString(v)}`).join(' ')})` : 'NIL';
  const h = (n: string): string | null => headerValue(p.header, n);
  const enc = (h('content-transfer-encoding') ?? '7BIT').toUpperCase();
  const fields = [
    imapString(p.type.toUpperCase()),
    imapString(p.subtype.toUpperCase()),
    params,
    nstring(h('content-id')),
    nstring(h('content-description')),
    imapString(enc),
    String(p.body.length),
  ];
  if (p.type === 'text') fields.push(String(countLines(p.body)));
  else if (p.type === 'message' && p.subtype === 'rfc822' && p.children[0]) {
    fields.push(envelope(p.children[0].header), bodyStructure(p.children[0]), String(countLines(p.body)));
  }
  return `(${fields.join(' ')})`;
}
