/** LIST/LSUB pattern matching (RFC 9051 §6.3.9): `*` matches anything, `%` stops at the delimiter. */
export function listMatcher(reference: string, pattern: string, delimiter: string): (name: string) => boolean {
  const full = reference + pattern;
  let re = '^';
  for (const ch of full) {
    if (ch === '*') re += '.*';
    else if (ch === '%') re += `[^${escape(delimiter)}]*`;
    else re += escape(ch);
  }
  const rx = new RegExp(re + '$', 'su');
  return (name) => {
    // INBOX is case-insensitive in patterns too.
    if (name === 'INBOX') return rx.test('INBOX') || new RegExp(re + '$', 'isu').test('INBOX');
    return rx.test(name);
  };
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}
