/**
 * The text SEARCH compares (RFC 9051 §6.4.4), decoded as Dovecot decodes it: encoded words
 * in headers (RFC 2047), transfer encodings and charsets in bodies, 8-bit header data as
 * UTF-8; case-insensitive in the sense of Unicode (both sides folded the same way).
 */
import { TextDecoder } from 'node:util';
import { fieldValue, type MimePart } from './mime.js';

export type Decode = (bytes: Buffer) => string;

const utf8 = new TextDecoder('utf-8');
const decodeUtf8: Decode = (b) => utf8.decode(b);

/** windows-1252 where it differs from ISO-8859-1 (0x80–0x9F; the five holes stay as they are). */
const CP1252_HIGH = '€\x81‚ƒ„…†‡ˆ‰Š‹Œ\x8dŽ\x8f\x90‘’“”•–—˜™š›œ\x9džŸ';

/**
 * A decoder for a MIME charset name, or null when there is none. ISO-8859-1 is decoded as
 * ISO-8859-1 and windows-1252 as windows-1252 here (the Encoding standard's TextDecoder
 * merges them, and Node 20's gets 0x80–0x9F wrong); US-ASCII as UTF-8, which is what 8-bit
 * data labelled so almost always is.
 */
export function charsetDecoder(charset: string): Decode | null {
  const label = charset.trim().toLowerCase();
  if (label === '' || label === 'us-ascii' || label === 'ascii' || label === 'utf-8' || label === 'utf8') return decodeUtf8;
  if (label === 'iso-8859-1' || label === 'iso8859-1' || label === 'latin1' || label === 'l1') return (b) => b.toString('latin1');
  if (label === 'windows-1252' || label === 'cp1252' || label === 'x-cp1252') {
    return (b) => b.toString('latin1').replace(/[\x80-\x9f]/g, (c) => CP1252_HIGH[c.charCodeAt(0) - 0x80]!);
  }
  try {
    const d = new TextDecoder(label);
    return (b) => d.decode(b);
  } catch {
    return null;
  }
}

/** Bytes held as latin1 text, read as UTF-8 (what 8-bit header data almost always is). */
const latin1AsUtf8 = (s: string): string => (/[\x80-\xff]/.test(s) ? utf8.decode(Buffer.from(s, 'latin1')) : s);

function decodeQ(text: string): Buffer {
  return Buffer.from(
    text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  );
}

const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;

/** A header value (latin1 text) as Unicode, encoded words decoded (RFC 2047 §6). */
export function decodeHeaderValue(value: string): string {
  let out = '';
  let last = 0;
  let afterWord = false;
  for (const m of value.matchAll(ENCODED_WORD)) {
    const between = value.slice(last, m.index);
    // White space between two encoded words is not part of the text (RFC 2047 §6.2).
    if (!(afterWord && /^[ \t\r\n]*$/.test(between))) out += latin1AsUtf8(between);
    const charset = m[1]!.split('*')[0]!;
    const bytes = m[2]!.toUpperCase() === 'B' ? Buffer.from(m[3]!, 'base64') : decodeQ(m[3]!);
    const dec = charsetDecoder(charset);
    out += dec ? dec(bytes) : m[0];
    last = m.index + m[0].length;
    afterWord = true;
  }
  return out + latin1AsUtf8(value.slice(last));
}

function decodeQuotedPrintable(b: Buffer): Buffer {
  const s = b.toString('latin1').replace(/=\r?\n/g, '');
  return Buffer.from(
    s.replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  );
}

/** A leaf part's body as text: transfer encoding undone, charset decoded. */
function partText(p: MimePart): string {
  const cte = (fieldValue(p.fields, 'content-transfer-encoding') ?? '').trim().toLowerCase();
  const bytes = cte === 'base64' ? Buffer.from(p.body.toString('latin1'), 'base64') : cte === 'quoted-printable' ? decodeQuotedPrintable(p.body) : p.body;
  const charset = p.contentType.params.find(([k]) => k.toLowerCase() === 'charset')?.[1] ?? 'us-ascii';
  return (charsetDecoder(charset) ?? decodeUtf8)(bytes);
}

/** Whether SEARCH BODY looks into a part: text and message types, as Dovecot does. */
function searchable(p: MimePart): boolean {
  const t = p.contentType.type.toLowerCase();
  return t === 'text' || t === 'message';
}

/** Every part of the message, depth first, with the messages message/rfc822 parts carry. */
function* allParts(p: MimePart): Generator<MimePart> {
  yield p;
  for (const c of p.parts) yield* allParts(c);
  if (p.message) yield* allParts(p.message);
}

/** What SEARCH BODY reads: the decoded text of the text parts, at any depth. Headers are not in it. */
export function bodyTexts(root: MimePart): string[] {
  const out: string[] = [];
  for (const p of allParts(root)) if (p.parts.length === 0 && !p.message && searchable(p) && p.contentType.type.toLowerCase() !== 'multipart') out.push(partText(p));
  return out;
}

/** What SEARCH TEXT reads besides the bodies: every header of every part, decoded. */
export function headerTexts(root: MimePart): string[] {
  const out: string[] = [];
  for (const p of allParts(root)) out.push(p.fields.map((f) => `${f.name}: ${decodeHeaderValue(f.value)}`).join('\n'));
  return out;
}

/** Unicode case folding for comparison; the same on both sides, so only equality matters. */
export const fold = (s: string): string => s.normalize('NFKC').toUpperCase();

/** Header text compares with runs of white space as one space, as Dovecot's does. */
export const squeeze = (s: string): string => s.replace(/[ \t\r\n]+/g, ' ');
