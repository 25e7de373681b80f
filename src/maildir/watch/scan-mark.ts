import { closeSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { SCAN_MARK_FILE } from '../mailbox-paths.js';
import type { DirIdentity } from './dir-watches.js';

/**
 * What a mailbox's new/ and cur/ looked like when a scan brought its record in line:
 * their identities and mtimes, read before the scan listed them, and when. A watcher
 * taking over compares them with the disk and scans only the mailboxes that changed since,
 * so catching up costs two stats per mailbox, not a scan. Kept beside the UID list in
 * `updatepipe-scanned`; losing it (no fsync) only means one more scan.
 */
export interface ScanMark {
  at: number;
  new: DirIdentity;
  cur: DirIdentity;
}

const LINE = /^v1 ([0-9]+:[0-9]+) ([0-9.]+) ([0-9]+:[0-9]+) ([0-9.]+) ([0-9]+)\n$/;

export function readScanMark(mailboxDir: string): ScanMark | null {
  let text: string;
  try {
    text = readFileSync(path.join(mailboxDir, SCAN_MARK_FILE), 'utf8');
  } catch {
    return null;
  }
  const m = LINE.exec(text);
  if (!m) return null;
  return { at: Number(m[5]), new: { id: m[1]!, mtimeMs: Number(m[2]) }, cur: { id: m[3]!, mtimeMs: Number(m[4]) } };
}

/** Synchronous and without fsync: three small calls after a scan (see src/maildir/atomic-file.ts). */
export function writeScanMark(mailboxDir: string, mark: ScanMark): void {
  const file = path.join(mailboxDir, SCAN_MARK_FILE);
  const temp = `${file}.tmp.${process.pid}`;
  try {
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, `v1 ${mark.new.id} ${mark.new.mtimeMs} ${mark.cur.id} ${mark.cur.mtimeMs} ${mark.at}\n`);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch {
    // The mailbox went away meanwhile, or the disk is full: the next takeover scans it.
  }
}
