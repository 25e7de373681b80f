/**
 * IMAP strings for responses built from message bytes held as latin1 text (one character
 * per byte): a quoted string when that is safe, a literal otherwise (8-bit data, CR or LF,
 * long values). The result is latin1 text too; write it with `Buffer.from(s, 'latin1')`.
 */
export function wireString(s: string): string {
  if (s.length <= 1000 && /^[\x20-\x7e]*$/.test(s)) return `"${s.replace(/[\\"]/g, (c) => '\\' + c)}"`;
  return `{${s.length}}\r\n${s}`;
}

export function wireNString(s: string | null | undefined): string {
  return s === null || s === undefined ? 'NIL' : wireString(s);
}
