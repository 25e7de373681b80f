import { readFile } from 'node:fs/promises';
import { PipeError } from '../errors.js';
import { isUid, MAX_UID, type Uid } from '../update/uid-set.js';
import { writeFileAtomic } from './atomic-file.js';
import { MAX_BASENAME_LENGTH } from './maildir-filename.js';

export interface UidListEntry {
  uid: Uid;
  /** The message file name without its ":2,…" info. */
  basename: string;
}

/** The persistent half of a mailbox's state: which file has which UID. */
export interface UidList {
  uidValidity: number;
  /** May be MAX_UID + 1 once the UID space is used up. */
  uidNext: number;
  /** Ascending by uid. */
  entries: UidListEntry[];
}

export type UidListRead =
  | { kind: 'ok'; list: UidList }
  | { kind: 'missing' }
  | { kind: 'corrupt'; reason: string };

const HEADER = /^v1 ([1-9][0-9]{0,9}) ([1-9][0-9]{0,9})$/;
const ENTRY = /^([1-9][0-9]{0,9}) (.+)$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * Strict on purpose: the file is only ever replaced atomically, so any defect means
 * something outside this store damaged it, and then none of its UIDs can be trusted.
 */
export function parseUidList(text: string): UidList | { corrupt: string } {
  if (!text.endsWith('\n')) return { corrupt: 'does not end with a newline (truncated?)' };
  const lines = text.slice(0, -1).split('\n');
  const header = HEADER.exec(lines[0] ?? '');
  if (!header) return { corrupt: 'bad header line' };
  const uidValidity = Number(header[1]);
  const uidNext = Number(header[2]);
  if (!isUid(uidValidity) || uidNext > MAX_UID + 1) return { corrupt: 'header values out of range' };
  const entries: UidListEntry[] = [];
  const basenames = new Set<string>();
  let previous = 0;
  for (let i = 1; i < lines.length; i++) {
    const m = ENTRY.exec(lines[i]!);
    if (!m) return { corrupt: `bad line ${i + 1}` };
    const uid = Number(m[1]);
    const basename = m[2]!;
    if (uid <= previous || uid >= uidNext) return { corrupt: `line ${i + 1}: uid ${uid} out of order or not below uidnext` };
    if (basename.length > MAX_BASENAME_LENGTH || basename.includes(':') || CONTROL_CHARS.test(basename) || basenames.has(basename)) {
      return { corrupt: `line ${i + 1}: bad or repeated file name` };
    }
    basenames.add(basename);
    entries.push({ uid, basename });
    previous = uid;
  }
  return { uidValidity, uidNext, entries };
}

export function formatUidList(list: UidList): string {
  let out = `v1 ${list.uidValidity} ${list.uidNext}\n`;
  for (const e of list.entries) out += `${e.uid} ${e.basename}\n`;
  return out;
}

export async function readUidList(file: string): Promise<UidListRead> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    throw e;
  }
  const parsed = parseUidList(text);
  return 'corrupt' in parsed ? { kind: 'corrupt', reason: parsed.corrupt } : { kind: 'ok', list: parsed };
}

export async function writeUidList(file: string, list: UidList): Promise<void> {
  await writeFileAtomic(file, formatUidList(list));
}

/** Gives `basename` the next UID (appending to `list`) and returns it. */
export function assignUid(list: UidList, basename: string): Uid {
  if (list.uidNext > MAX_UID) throw new PipeError('INTERNAL', 'UID space exhausted: the mailbox needs a new UIDVALIDITY');
  const uid = list.uidNext++;
  list.entries.push({ uid, basename });
  return uid;
}
