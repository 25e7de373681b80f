import { envelope } from './envelope.js';
import { parseDisposition, parseLanguages, type Param } from './header-params.js';
import { countLines, fieldValue, type MimePart } from './mime.js';
import { wireNString, wireString } from './wire-string.js';

/** What Dovecot sends for a multipart without parts (RFC 9051 wants at least one): an empty text part. */
const emptyPart = (extended: boolean): string => `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0${extended ? ' NIL NIL NIL NIL' : ''})`;

function paramList(params: readonly Param[]): string {
  return params.length ? `(${params.map(([k, v]) => `${wireString(k)} ${wireString(v)}`).join(' ')})` : 'NIL';
}

/** body-fld-dsp, body-fld-lang and body-fld-loc, shared by every kind of part. */
function dispositionLanguageLocation(p: MimePart): string {
  const d = parseDisposition(fieldValue(p.fields, 'content-disposition'));
  const langs = parseLanguages(fieldValue(p.fields, 'content-language'));
  return [
    d ? `(${wireString(d.type)} ${paramList(d.params)})` : 'NIL',
    langs ? `(${langs.map(wireString).join(' ')})` : 'NIL',
    wireNString(fieldValue(p.fields, 'content-location')),
  ].join(' ');
}

/** The first token of Content-Transfer-Encoding, as written; 7bit by default (RFC 2045 §6.1). */
function transferEncoding(p: MimePart): string {
  return /^[^\s(;]+/.exec(fieldValue(p.fields, 'content-transfer-encoding') ?? '')?.[0] ?? '7bit';
}

/**
 * BODYSTRUCTURE (`extended`) or BODY (RFC 9051 §7.5.2) of a parsed message, latin1 text.
 * Names and values are sent as written, defaults in lower case, as Dovecot does.
 */
export function bodyStructure(p: MimePart, extended: boolean): string {
  const ct = p.contentType;
  if (ct.type.toLowerCase() === 'multipart') {
    const parts = p.parts.length ? p.parts.map((c) => bodyStructure(c, extended)).join('') : emptyPart(extended);
    const ext = extended ? ` ${paramList(ct.params)} ${dispositionLanguageLocation(p)}` : '';
    return `(${parts} ${wireString(ct.subtype)}${ext})`;
  }
  const fields = [
    wireString(ct.type),
    wireString(ct.subtype),
    paramList(ct.params),
    wireNString(fieldValue(p.fields, 'content-id')),
    wireNString(fieldValue(p.fields, 'content-description')),
    wireString(transferEncoding(p)),
    String(p.body.length),
  ];
  const type = ct.type.toLowerCase();
  if (type === 'text') fields.push(String(countLines(p.body)));
  else if (type === 'message' && ct.subtype.toLowerCase() === 'rfc822') {
    const inner = p.message;
    fields.push(inner ? envelope(inner.fields) : envelope([]), inner ? bodyStructure(inner, extended) : emptyPart(extended), String(countLines(p.body)));
  }
  if (extended) fields.push(wireNString(fieldValue(p.fields, 'content-md5')), dispositionLanguageLocation(p));
  return `(${fields.join(' ')})`;
}
