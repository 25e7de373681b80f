/**
 * LIST/LSUB pattern matching (RFC 9051 §6.3.9): `*` matches anything, `%` stops at the
 * delimiter. A dynamic-programming match, O(pattern × name): a regular expression built
 * from a client's pattern (`*a*a*a…b`) backtracks without end on a long name.
 */
export function listMatcher(reference: string, pattern: string, delimiter: string): (name: string) => boolean {
  const full = [...(reference + pattern)];
  return (name) => {
    if (matches(full, [...name], delimiter, false)) return true;
    // INBOX is case-insensitive in patterns too.
    return name === 'INBOX' && matches(full, [...name], delimiter, true);
  };
}

function matches(pattern: string[], name: string[], delimiter: string, foldCase: boolean): boolean {
  const same = foldCase ? (a: string, b: string) => a.toLowerCase() === b.toLowerCase() : (a: string, b: string) => a === b;
  // row[j]: the pattern so far matches the first j characters of the name.
  let row: boolean[] = new Array<boolean>(name.length + 1).fill(false);
  row[0] = true;
  for (const p of pattern) {
    const next: boolean[] = new Array<boolean>(name.length + 1).fill(false);
    if (p === '*') {
      let any = false;
      for (let j = 0; j <= name.length; j++) next[j] = any ||= row[j]!;
    } else if (p === '%') {
      next[0] = row[0]!;
      for (let j = 1; j <= name.length; j++) next[j] = row[j]! || (next[j - 1]! && name[j - 1] !== delimiter);
    } else {
      for (let j = 1; j <= name.length; j++) next[j] = row[j - 1]! && same(p, name[j - 1]!);
    }
    row = next;
    if (!row.includes(true)) return false;
  }
  return row[name.length]!;
}
