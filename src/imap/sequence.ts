import { ImapSyntaxError } from './tokens.js';

/**
 * Resolves an IMAP sequence set (with `*`) against a session's view. Returns indexes into
 * the view (0-based), ascending, without duplicates. UIDs that do not exist are skipped
 * silently, as RFC 9051 §6.4.9 asks for UID commands.
 */
export function resolveSet(text: string, uids: readonly number[], byUid: boolean): number[] {
  if (!/^[0-9*:,]+$/.test(text) || text.length > 100_000) throw new ImapSyntaxError('bad sequence set');
  const n = uids.length;
  const maxValue = byUid ? (uids[n - 1] ?? 0) : n;
  const hits = new Set<number>();
  for (const range of text.split(',')) {
    const [a, b] = range.split(':');
    if (a === undefined || a === '' || b === '' || range.split(':').length > 2) throw new ImapSyntaxError('bad sequence set');
    const va = a === '*' ? maxValue : Number(a);
    const vb = b === undefined ? va : b === '*' ? maxValue : Number(b);
    if (!Number.isInteger(va) || !Number.isInteger(vb) || (a !== '*' && va < 1) || (b !== undefined && b !== '*' && vb < 1)) {
      throw new ImapSyntaxError('bad sequence set');
    }
    const lo = Math.min(va, vb);
    const hi = Math.max(va, vb);
    if (byUid) {
      // Binary search the first UID >= lo, then walk: cost is the hits, not the range.
      let l = 0;
      let r = n;
      while (l < r) {
        const m = (l + r) >>> 1;
        if (uids[m]! < lo) l = m + 1;
        else r = m;
      }
      for (let i = l; i < n && uids[i]! <= hi; i++) hits.add(i);
    } else {
      if (!byUid && hi > n && n > 0 && a !== '*' && b !== '*') throw new ImapSyntaxError('sequence number out of range');
      for (let s = Math.max(1, lo); s <= Math.min(hi, n); s++) hits.add(s - 1);
    }
  }
  return [...hits].sort((x, y) => x - y);
}
