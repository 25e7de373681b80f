/**
 * An ASCII string as msgpack writes it, the shortest header that holds it (fixstr, str 8,
 * str 16), as bytes: the constants the canonical reader matches and the writer copies.
 */
export function msgpackStr(s: string): number[] {
  const n = s.length;
  const head = n < 0x20 ? [0xa0 | n] : n < 0x100 ? [0xd9, n] : [0xda, n >>> 8, n & 0xff];
  return [...head, ...[...s].map((c) => c.charCodeAt(0))];
}
