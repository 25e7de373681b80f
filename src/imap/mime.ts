/**
 * Just enough RFC 5322 / MIME to answer FETCH and SEARCH, parsed the way Dovecot 2.3 does
 * (the differential test holds us to it): on raw bytes (header text is handled as latin1,
 * one character per byte, so 8-bit data goes back out unchanged), never throwing on
 * malformed mail. Messages are first seen with CRLF line ends (see `withCrlf`): sizes,
 * offsets and line counts are those a client receives.
 */
import { parseContentType, type ContentType } from './header-params.js';

export interface HeaderField {
  /** As written. */
  name: string;
  /** Unfolded (CR and LF removed, the folding white space kept), trimmed. */
  value: string;
  /** The field's lines as in the message, CRLF between them, none at the end. */
  raw: string;
}

export interface MimePart {
  /** The header as in the message, with the empty line that ends it when there is one. */
  header: Buffer;
  /** Whether the header ended with an empty line (otherwise the part is all header). */
  headerEnded: boolean;
  body: Buffer;
  fields: HeaderField[];
  contentType: ContentType;
  /** multipart/*: its body parts, in order (possibly none, for broken mail). */
  parts: MimePart[];
  /** message/rfc822: the message it carries. */
  message: MimePart | null;
}

const MAX_PARTS = 500;
const MAX_DEPTH = 20;
const LF = 0x0a;
const CR = 0x0d;

/**
 * The message as IMAP clients must get it: every bare LF made CRLF (RFC 9051 §2.2; Maildir
 * files written by an MDA usually end lines with LF alone). The same Buffer when nothing
 * needs changing.
 */
export function withCrlf(raw: Buffer): Buffer {
  const bare = bareLineFeeds(raw);
  if (bare === 0) return raw;
  const out = Buffer.allocUnsafe(raw.length + bare);
  let o = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === LF && (i === 0 || raw[i - 1] !== CR)) out[o++] = CR;
    out[o++] = c;
  }
  return out;
}

function bareLineFeeds(raw: Buffer): number {
  let bare = 0;
  for (let i = raw.indexOf(LF); i >= 0; i = raw.indexOf(LF, i + 1)) if (i === 0 || raw[i - 1] !== CR) bare++;
  return bare;
}

/** `withCrlf(raw).length`, without making the copy. */
export const crlfSize = (raw: Buffer): number => raw.length + bareLineFeeds(raw);

/** Splits at the first empty line; without one, all of it is header. */
export function splitHeader(raw: Buffer): { header: Buffer; body: Buffer; ended: boolean } {
  let pos = 0;
  while (pos < raw.length) {
    const nl = raw.indexOf(LF, pos);
    if (nl < 0) break;
    if (nl === pos || (nl === pos + 1 && raw[pos] === CR)) return { header: raw.subarray(0, nl + 1), body: raw.subarray(nl + 1), ended: true };
    pos = nl + 1;
  }
  return { header: raw, body: raw.subarray(raw.length), ended: false };
}

/** Header fields in order; lines that are no field (no colon) are skipped. */
export function parseHeaderFields(header: Buffer): HeaderField[] {
  const out: HeaderField[] = [];
  let current: HeaderField | null = null;
  for (const line of header.toString('latin1').split(/\r?\n/)) {
    if (line === '') continue;
    if ((line[0] === ' ' || line[0] === '\t') && current) {
      current.value += line;
      current.raw += '\r\n' + line;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      current = null;
      continue;
    }
    current = { name: line.slice(0, colon).trim(), value: line.slice(colon + 1), raw: line };
    out.push(current);
  }
  for (const f of out) f.value = f.value.trim();
  return out;
}

/** The last field of that name (Dovecot's ENVELOPE and BODYSTRUCTURE take the last one). */
export function lastField(fields: readonly HeaderField[], name: string): HeaderField | undefined {
  const lower = name.toLowerCase();
  for (let i = fields.length - 1; i >= 0; i--) if (fields[i]!.name.toLowerCase() === lower) return fields[i];
  return undefined;
}

export function fieldValue(fields: readonly HeaderField[], name: string): string | null {
  return lastField(fields, name)?.value ?? null;
}

/** Parses a whole message (give it `withCrlf(raw)`). */
export function parseMessage(raw: Buffer): MimePart {
  return parsePart(raw, false, 0, { parts: 0 });
}

function parsePart(raw: Buffer, inDigest: boolean, depth: number, budget: { parts: number }): MimePart {
  budget.parts++;
  const { header, body, ended } = splitHeader(raw);
  const fields = parseHeaderFields(header);
  const contentType = parseContentType(fieldValue(fields, 'content-type'), inDigest);
  const part: MimePart = { header, headerEnded: ended, body, fields, contentType, parts: [], message: null };
  const type = contentType.type.toLowerCase();
  if (depth >= MAX_DEPTH) return part;
  if (type === 'multipart') {
    const boundary = contentType.params.find(([k]) => k.toLowerCase() === 'boundary')?.[1];
    if (boundary) {
      const digest = contentType.subtype.toLowerCase() === 'digest';
      for (const child of splitMultipart(body, boundary)) {
        if (budget.parts >= MAX_PARTS) break;
        part.parts.push(parsePart(child, digest, depth + 1, budget));
      }
    }
  } else if (type === 'message' && contentType.subtype.toLowerCase() === 'rfc822' && budget.parts < MAX_PARTS) {
    part.message = parsePart(body, false, depth + 1, budget);
  }
  return part;
}

/**
 * The body parts between `--boundary` lines (RFC 2046 §5.1.1). The CRLF before a delimiter
 * belongs to it, unless it ends a nested multipart's close delimiter line (then, as in
 * Dovecot, it stays in the part); the preamble and anything after the close delimiter are
 * dropped; a last part that no delimiter ends runs to the end of the body.
 */
function splitMultipart(body: Buffer, boundary: string): Buffer[] {
  const delim = Buffer.from('--' + boundary, 'latin1');
  const out: Buffer[] = [];
  let start = -1;
  let pos = 0;
  while (pos <= body.length) {
    const at = body.indexOf(delim, pos);
    if (at < 0) break;
    if (at > 0 && body[at - 1] !== LF) {
      pos = at + 1;
      continue;
    }
    if (start >= 0) {
      let end = at;
      const whole = body.subarray(start, end);
      if (!endsWithCloseDelimiter(whole)) {
        if (end > start && body[end - 1] === LF) end--;
        if (end > start && body[end - 1] === CR) end--;
      }
      out.push(body.subarray(start, end));
      start = -1;
    }
    const after = at + delim.length;
    if (body[after] === 0x2d && body[after + 1] === 0x2d) return out; // close delimiter
    const nl = body.indexOf(LF, after);
    if (nl < 0) return out;
    start = nl + 1;
    pos = start;
  }
  if (start >= 0) out.push(body.subarray(start));
  return out;
}

/** Whether an entity (a multipart, or a message carrying one) ends with its close delimiter line. */
function endsWithCloseDelimiter(entity: Buffer, depth = 0): boolean {
  if (depth > MAX_DEPTH) return false;
  const { header, body } = splitHeader(entity);
  const ct = parseContentType(fieldValue(parseHeaderFields(header), 'content-type'));
  const type = ct.type.toLowerCase();
  if (type === 'message' && ct.subtype.toLowerCase() === 'rfc822') return endsWithCloseDelimiter(body, depth + 1);
  const boundary = type === 'multipart' ? ct.params.find(([k]) => k.toLowerCase() === 'boundary')?.[1] : undefined;
  if (!boundary || body.length < 2 || body[body.length - 1] !== LF) return false;
  const text = body.toString('latin1');
  const lastLine = text.slice(text.lastIndexOf('\n', text.length - 2) + 1).replace(/[ \t]*\r?\n$/, '');
  return lastLine === `--${boundary}--`;
}

/** Lines as IMAP counts them for BODYSTRUCTURE: the line ends in the part. */
export function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(LF); i >= 0; i = b.indexOf(LF, i + 1)) n++;
  return n;
}
