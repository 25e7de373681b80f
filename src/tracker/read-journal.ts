import type { Uid, UidSet } from '../update/uid-set.js';
import type { FlagSet } from './flag-set.js';
import type { MessageIndex } from './message-index.js';

export type MessageChange =
  | { type: 'exists'; uids: UidSet; uidValidity?: number; modseq?: number }
  | { type: 'expunge'; uids: UidSet; uidValidity?: number }
  | { type: 'flags'; uid: Uid; flags: FlagSet; modseq?: number; uidValidity?: number };

export interface ReplayOutcome {
  /** The read cannot be trusted to be complete: ask storage again. */
  readAgain: boolean;
}

/**
 * Changes that arrived while a storage read was in flight. Any of them may be newer than
 * the read, so they are replayed on top of it; replaying one that the read already
 * contains is harmless because every change is idempotent. Bounded: past `limit` entries
 * the journal gives up and the read must be repeated.
 */
export class ReadJournal {
  private entries: MessageChange[] = [];
  private overflowed = false;
  private incomplete = false;

  constructor(private readonly limit: number) {}

  /** Something that happened during the read may be missing from it and from the journal. */
  markIncomplete(): void {
    this.incomplete = true;
  }

  record(change: MessageChange): void {
    if (this.overflowed) return;
    if (this.entries.length >= this.limit) {
      this.overflowed = true;
      this.entries = [];
      return;
    }
    this.entries.push(change);
  }

  replay(target: MessageIndex, maxNew: number): ReplayOutcome {
    let readAgain = this.overflowed || this.incomplete;
    for (const c of this.entries) {
      if (c.uidValidity !== undefined && c.uidValidity !== target.uidValidity) {
        // A newer incarnation than the read: the read is already outdated.
        if (c.uidValidity > target.uidValidity) readAgain = true;
        continue;
      }
      switch (c.type) {
        case 'exists':
          if (target.addExisting(c.uids, maxNew, c.modseq).unplaceable) readAgain = true;
          break;
        case 'expunge':
          target.remove(c.uids);
          if (target.overflowed) readAgain = true;
          break;
        case 'flags':
          if (target.setFlags(c.uid, c.flags, c.modseq) === 'unplaceable') readAgain = true;
          break;
      }
    }
    this.entries = [];
    return { readAgain };
  }
}
