import type { Uid } from '../update/uid-set.js';
import type { Flag } from '../update/update.js';
import { lettersToFlags } from './flag-codec.js';
import type { KeywordTable } from './keywords.js';
import type { MessageFile } from './message-scan.js';
import { assignUid, nextModseq, recordExpunge, type UidList } from './uid-list.js';

/** What other tools did to a mailbox since the store last recorded it. */
export interface Reconciled {
  /** Entries whose file is gone. */
  expunged: Uid[];
  /** Messages whose flags (as IMAP sees them) another tool changed, with the new set. */
  flagged: { uid: Uid; flags: Flag[] }[];
  /** Files that had no UID, numbered now (ascending). */
  added: Uid[];
  /** The modseq all of the above took; undefined when there were none. */
  modseq: number | undefined;
  /** The list changed (including silent adoptions) and must be written. */
  dirty: boolean;
}

const sameFlags = (a: readonly Flag[], b: readonly Flag[]): boolean => a.length === b.length && a.every((f, i) => f === b[i]);

/**
 * Brings `list` in line with the files found, in place. A rename that changes only
 * letters IMAP does not see (another program's "P", an unmapped keyword letter) is
 * recorded without an announcement or a new modseq; so are the letters of entries read
 * from a v1 list, which did not keep them. Everything else takes one new modseq: a scan
 * is one transaction, as a Dovecot maildir sync is.
 */
export function reconcile(list: UidList, files: ReadonlyMap<string, MessageFile>, table: KeywordTable): Reconciled {
  const out: Reconciled = { expunged: [], flagged: [], added: [], modseq: undefined, dirty: false };
  let modseq: number | undefined;
  const take = (): number => (modseq ??= nextModseq(list));
  const kept = [];
  for (const e of list.entries) {
    const file = files.get(e.basename);
    if (file === undefined) {
      out.expunged.push(e.uid);
      continue;
    }
    kept.push(e);
    if (e.letters === file.letters) continue;
    out.dirty = true;
    const before = e.letters === null ? null : lettersToFlags(e.letters, table);
    const now = lettersToFlags(file.letters, table);
    e.letters = file.letters;
    if (before === null || sameFlags(before, now)) continue;
    e.modseq = take();
    out.flagged.push({ uid: e.uid, flags: now });
  }
  if (out.expunged.length > 0) {
    out.dirty = true;
    list.entries = kept;
    recordExpunge(list, out.expunged, take());
  }
  const known = new Set(kept.map((e) => e.basename));
  const unnumbered = [...files.keys()].filter((b) => !known.has(b)).sort();
  for (const basename of unnumbered) out.added.push(assignUid(list, basename, files.get(basename)!.letters, take()));
  if (out.added.length > 0) out.dirty = true;
  out.modseq = modseq;
  return out;
}
