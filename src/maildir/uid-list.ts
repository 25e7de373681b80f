import { readFileSync } from 'node:fs';
import { PipeError } from '../errors.js';
import { isUid, MAX_UID, UidSet, type Uid } from '../update/uid-set.js';
import { writeFileAtomic } from './atomic-file.js';
import { MAX_BASENAME_LENGTH } from './maildir-filename.js';

export interface UidListEntry {
  uid: Uid;
  /** The message file name without its ":2,…" info. */
  basename: string;
  /** The mailbox modseq of this message's last change (delivery or flags). */
  modseq: number;
  /**
   * The info letters last recorded (and so announced) for this message. A file whose
   * letters differ was renamed by another tool. `null` only right after an upgrade from
   * v1, which did not keep them: the next scan adopts the file's letters silently.
   */
  letters: string | null;
}

/** UIDs expunged by one operation, and the modseq it took (for QRESYNC's VANISHED). */
export interface ExpungeRecord {
  modseq: number;
  uids: UidSet;
}

/** The persistent half of a mailbox's state: which file has which UID, and what was announced. */
export interface UidList {
  uidValidity: number;
  /** May be MAX_UID + 1 once the UID space is used up. */
  uidNext: number;
  /** Highest modseq given out in this mailbox (RFC 7162): never decreases. */
  highestModseq: number;
  /**
   * Expunges at or below this modseq are forgotten: a client resynchronising from before
   * it is told every UID it may hold that no longer exists instead (RFC 7162 §3.2.5.2).
   */
  vanishedFloor: number;
  /** Ascending by uid. */
  entries: UidListEntry[];
  /** Remembered expunges, oldest first, each above `vanishedFloor`; bounded (see below). */
  expunged: ExpungeRecord[];
}

/**
 * How much expunge history a list keeps: rewritten with every change, so it must stay
 * small. Past either bound the oldest records go and the floor rises to them.
 */
export const MAX_EXPUNGE_RECORDS = 1_024;
export const MAX_EXPUNGE_TEXT = 64 * 1024;

export type UidListRead =
  | { kind: 'ok'; list: UidList }
  | { kind: 'missing' }
  | { kind: 'corrupt'; reason: string };

const V1_HEADER = /^v1 ([1-9][0-9]{0,9}) ([1-9][0-9]{0,9})$/;
const V1_ENTRY = /^([1-9][0-9]{0,9}) (.+)$/;
const V2_HEADER = /^v2 ([1-9][0-9]{0,9}) ([1-9][0-9]{0,9}) ([1-9][0-9]{0,14}) ([0-9]{1,15})$/;
const V2_ENTRY = /^([1-9][0-9]{0,9}) ([1-9][0-9]{0,14}) (-|[A-Za-z]{1,52}) (.+)$/;
const V2_EXPUNGED = /^x ([1-9][0-9]{0,14}) ([0-9:,]{1,65536})$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const NO_LETTERS = '-';

function badBasename(basename: string, seen: Set<string>): boolean {
  return basename.length > MAX_BASENAME_LENGTH || basename.includes(':') || CONTROL_CHARS.test(basename) || seen.has(basename);
}

function isNormalLetters(letters: string): boolean {
  for (let i = 1; i < letters.length; i++) if (letters[i - 1]! >= letters[i]!) return false;
  return true;
}

/**
 * Strict on purpose: the file is only ever replaced atomically, so any defect means
 * something outside this store damaged it, and then none of its UIDs can be trusted.
 * Reads v1 (no modseq, no letters) as well, so existing trees upgrade in place: every
 * message gets modseq 1 and its letters are adopted at the next scan.
 */
export function parseUidList(text: string): UidList | { corrupt: string } {
  if (!text.endsWith('\n')) return { corrupt: 'does not end with a newline (truncated?)' };
  const lines = text.slice(0, -1).split('\n');
  const v2 = V2_HEADER.exec(lines[0] ?? '');
  const v1 = v2 ? null : V1_HEADER.exec(lines[0] ?? '');
  const header = v2 ?? v1;
  if (!header) return { corrupt: 'bad header line' };
  const uidValidity = Number(header[1]);
  const uidNext = Number(header[2]);
  const highestModseq = v2 ? Number(header[3]) : 1;
  const vanishedFloor = v2 ? Number(header[4]) : 1;
  if (!isUid(uidValidity) || uidNext > MAX_UID + 1 || !Number.isSafeInteger(highestModseq) || vanishedFloor > highestModseq) return { corrupt: 'header values out of range' };
  const entries: UidListEntry[] = [];
  const expunged: ExpungeRecord[] = [];
  const basenames = new Set<string>();
  let previous = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (v2 && line.startsWith('x ')) {
      const x = V2_EXPUNGED.exec(line);
      const last = expunged.length > 0 ? expunged[expunged.length - 1]!.modseq : vanishedFloor;
      if (!x || Number(x[1]) <= last || Number(x[1]) > highestModseq) return { corrupt: `line ${i + 1}: bad expunge record` };
      let uids: UidSet;
      try {
        uids = UidSet.parse(x[2]!);
      } catch {
        return { corrupt: `line ${i + 1}: bad expunge record` };
      }
      expunged.push({ modseq: Number(x[1]), uids });
      continue;
    }
    if (expunged.length > 0) return { corrupt: `line ${i + 1}: message after the expunge records` };
    const m = (v2 ? V2_ENTRY : V1_ENTRY).exec(line);
    if (!m) return { corrupt: `bad line ${i + 1}` };
    const uid = Number(m[1]);
    const modseq = v2 ? Number(m[2]) : 1;
    const letters = v2 ? (m[3] === NO_LETTERS ? '' : m[3]!) : null;
    const basename = v2 ? m[4]! : m[2]!;
    if (uid <= previous || uid >= uidNext) return { corrupt: `line ${i + 1}: uid ${uid} out of order or not below uidnext` };
    if (modseq > highestModseq) return { corrupt: `line ${i + 1}: modseq above the highest` };
    if (letters !== null && !isNormalLetters(letters)) return { corrupt: `line ${i + 1}: flag letters not in order` };
    if (badBasename(basename, basenames)) return { corrupt: `line ${i + 1}: bad or repeated file name` };
    basenames.add(basename);
    entries.push({ uid, basename, modseq, letters });
    previous = uid;
  }
  return { uidValidity, uidNext, highestModseq, vanishedFloor, entries, expunged };
}

/** Always v2. Letters not yet adopted (null after an upgrade) are written as none. */
export function formatUidList(list: UidList): string {
  let out = `v2 ${list.uidValidity} ${list.uidNext} ${list.highestModseq} ${list.vanishedFloor}\n`;
  for (const e of list.entries) out += `${e.uid} ${e.modseq} ${e.letters || NO_LETTERS} ${e.basename}\n`;
  for (const x of list.expunged) out += `x ${x.modseq} ${x.uids.toString()}\n`;
  return out;
}

/**
 * Remembers that `uids` went at `modseq` (the operation's own, the newest). The history
 * stays within MAX_EXPUNGE_RECORDS and MAX_EXPUNGE_TEXT: the oldest records are forgotten
 * first, and the floor rises to the last one forgotten.
 */
export function recordExpunge(list: UidList, uids: readonly Uid[], modseq: number): void {
  if (uids.length === 0) return;
  list.expunged.push({ modseq, uids: UidSet.parse([...uids]) });
  let text = 0;
  for (const x of list.expunged) text += x.uids.toString().length + 20;
  while (list.expunged.length > MAX_EXPUNGE_RECORDS || (text > MAX_EXPUNGE_TEXT && list.expunged.length > 0)) {
    const gone = list.expunged.shift()!;
    text -= gone.uids.toString().length + 20;
    list.vanishedFloor = gone.modseq;
  }
}

/**
 * UIDs expunged after `modseq`, or null when the history no longer reaches back that far
 * (then only "every UID the client may hold that is not here now" is a safe answer).
 */
export function expungedSince(list: UidList, modseq: number): Uid[] | null {
  if (modseq < list.vanishedFloor) return null;
  const out: Uid[] = [];
  for (const x of list.expunged) if (x.modseq > modseq) for (const u of x.uids) out.push(u);
  return out.sort((a, b) => a - b);
}

export async function readUidList(file: string): Promise<UidListRead> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8'); // small and hot: see atomic-file.ts
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw e;
  }
  const parsed = parseUidList(text);
  return 'corrupt' in parsed ? { kind: 'corrupt', reason: parsed.corrupt } : { kind: 'ok', list: parsed };
}

/** `renameAfter`: see writeFileAtomic. */
export async function writeUidList(file: string, list: UidList, renameAfter?: Promise<void>): Promise<void> {
  await writeFileAtomic(file, formatUidList(list), renameAfter);
}

export function emptyUidList(uidValidity: number): UidList {
  return { uidValidity, uidNext: 1, highestModseq: 1, vanishedFloor: 1, entries: [], expunged: [] };
}

/** The modseq for one more change to the mailbox (RFC 7162: strictly increasing). */
export function nextModseq(list: UidList): number {
  if (list.highestModseq >= Number.MAX_SAFE_INTEGER) throw new PipeError('INTERNAL', 'modseq space exhausted');
  return ++list.highestModseq;
}

/** Gives `basename` the next UID (appending to `list`) and returns it. */
export function assignUid(list: UidList, basename: string, letters: string, modseq: number): Uid {
  if (list.uidNext > MAX_UID) throw new PipeError('INTERNAL', 'UID space exhausted: the mailbox needs a new UIDVALIDITY');
  const uid = list.uidNext++;
  list.entries.push({ uid, basename, modseq, letters });
  return uid;
}
