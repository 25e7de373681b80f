/**
 * Modified UTF-7 for mailbox names (RFC 3501 §5.1.3): printable ASCII stays, "&" is "&-",
 * everything else is UTF-16 in modified base64 ("," for "/") between "&" and "-".
 */
export function encodeMailboxName(name: string): string {
  let out = '';
  let pending = '';
  const flush = (): void => {
    if (!pending) return;
    const b = Buffer.alloc(pending.length * 2);
    for (let i = 0; i < pending.length; i++) b.writeUInt16BE(pending.charCodeAt(i), i * 2);
    out += '&' + b.toString('base64').replace(/=+$/, '').replace(/\//g, ',') + '-';
    pending = '';
  };
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    if (c >= 0x20 && c <= 0x7e && ch.length === 1) {
      flush();
      out += ch === '&' ? '&-' : ch;
    } else pending += ch;
  }
  flush();
  return out;
}

/** Decodes modified UTF-7; returns null for malformed input (the caller answers BAD/NO). */
export function decodeMailboxName(text: string): string | null {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch !== '&') {
      out += ch;
      continue;
    }
    const end = text.indexOf('-', i);
    if (end < 0) return null;
    const b64 = text.slice(i + 1, end);
    i = end;
    if (b64 === '') {
      out += '&';
      continue;
    }
    if (!/^[A-Za-z0-9+,]+$/.test(b64)) return null;
    const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
    if (bytes.length % 2 !== 0) return null;
    for (let k = 0; k < bytes.length; k += 2) out += String.fromCharCode(bytes.readUInt16BE(k));
  }
  // Control characters are never valid in a mailbox name, however they were encoded.
  // eslint-disable-next-line no-control-regex
  return out.isWellFormed() && !/[\u0000-\u001f\u007f]/.test(out) ? out : null;
}
