/**
 * Just enough RFC 5322 / MIME to answer FETCH: split header from body, read header fields,
 * walk multipart bodies. Works on raw bytes; never throws on malformed mail.
 */
export interface MimePart {
  header: Buffer;
  body: Buffer;
  /** Parsed Content-Type: type/subtype lower-cased, parameters with lower-cased names. */
  type: string;
  subtype: string;
  params: Map<string, string>;
  children: MimePart[];
}

const MAX_PARTS = 500;
const MAX_DEPTH = 20;

export function splitMessage(raw: Buffer): { header: Buffer; body: Buffer } {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  let end: number;
  let sep: number;
  if (crlf >= 0 && (lf < 0 || crlf < lf)) {
    end = crlf + 2;
    sep = 4;
  } else if (lf >= 0) {
    end = lf + 1;
    sep = 2;
  } else {
    return { header: raw, body: Buffer.alloc(0) };
  }
  return { header: raw.subarray(0, end), body: raw.subarray(end - (sep === 4 ? 2 : 1) + sep) };
}

/** Header fields in order, unfolded; names as written. */
export function headerFields(header: Buffer): { name: string; value: string; raw: string }[] {
  const text = header.toString('latin1');
  const lines = text.split(/\r?\n/);
  const out: { name: string; value: string; raw: string }[] = [];
  for (const line of lines) {
    if (line === '') continue;
    if ((line[0] === ' ' || line[0] === '\t') && out.length > 0) {
      const last = out[out.length - 1]!;
      last.value += ' ' + line.trim();
      last.raw += '\r\n' + line;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    out.push({ name: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim(), raw: line });
  }
  return out;
}

export function headerValue(header: Buffer, name: string): string | null {
  const lower = name.toLowerCase();
  return headerFields(header).find((f) => f.name.toLowerCase() === lower)?.value ?? null;
}

/** `text/plain; charset="utf-8"` → parts. */
export function parseContentType(value: string | null): { type: string; subtype: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  if (!value) return { type: 'text', subtype: 'plain', params: new Map([['charset', 'us-ascii']]) };
  const [mime, ...rest] = splitParams(value);
  const [type, subtype] = (mime ?? '').toLowerCase().split('/');
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq <= 0) continue;
    let v = p.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    params.set(p.slice(0, eq).trim().toLowerCase(), v);
  }
  if (!type || !subtype) return { type: 'text', subtype: 'plain', params };
  return { type, subtype, params };
}

function splitParams(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of value) {
    if (c === '"') quoted = !quoted;
    if (c === ';' && !quoted) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  out.push(cur.trim());
  return out.filter((s) => s !== '');
}

export function parseMime(raw: Buffer, depth = 0, budget = { parts: 0 }): MimePart {
  const { header, body } = splitMessage(raw);
  const ct = parseContentType(headerValue(header, 'content-type'));
  const part: MimePart = { header, body, ...ct, children: [] };
  budget.parts++;
  const boundary = ct.params.get('boundary');
  if (ct.type === 'multipart' && boundary && depth < MAX_DEPTH) {
    for (const child of splitMultipart(body, boundary)) {
      if (budget.parts >= MAX_PARTS) break;
      part.children.push(parseMime(child, depth + 1, budget));
    }
  } else if (ct.type === 'message' && ct.subtype === 'rfc822' && depth < MAX_DEPTH && budget.parts < MAX_PARTS) {
    part.children.push(parseMime(body, depth + 1, budget));
  }
  return part;
}

function splitMultipart(body: Buffer, boundary: string): Buffer[] {
  const delim = Buffer.from('--' + boundary);
  const out: Buffer[] = [];
  let pos = 0;
  let start = -1;
  for (;;) {
    const at = body.indexOf(delim, pos);
    if (at < 0) break;
    const lineStart = at === 0 || body[at - 1] === 0x0a;
    if (!lineStart) {
      pos = at + delim.length;
      continue;
    }
    if (start >= 0) {
      let end = at;
      if (body[end - 1] === 0x0a) end--;
      if (body[end - 1] === 0x0d) end--;
      out.push(body.subarray(start, Math.max(start, end)));
    }
    const after = at + delim.length;
    if (body[after] === 0x2d && body[after + 1] === 0x2d) break; // closing delimiter
    const nl = body.indexOf(0x0a, after);
    if (nl < 0) break;
    start = nl + 1;
    pos = start;
  }
  return out;
}

export function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(0x0a); i >= 0; i = b.indexOf(0x0a, i + 1)) n++;
  if (b.length > 0 && b[b.length - 1] !== 0x0a) n++;
  return n;
}
