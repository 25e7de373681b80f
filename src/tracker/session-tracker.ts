import type { Uid } from '../update/uid-set.js';
import type { Flag, MailboxName, UserName } from '../update/update.js';
import type { FlagSet } from './flag-set.js';
import type { MessageIndex } from './message-index.js';
import type { SessionView } from './session-view.js';
import { indexOfUid } from './sorted-uids.js';
import type { SeqNum, UntaggedResponse } from './untagged.js';

export interface PollOptions {
  /**
   * `false` while answering FETCH, STORE or SEARCH by sequence number (RFC 9051 §7.5.1):
   * expunges are then held back, and their messages keep their numbers until a later poll
   * that allows them. UID FETCH/STORE/SEARCH, NOOP, IDLE, EXPUNGE and the rest pass `true`.
   */
  allowExpunge: boolean;
}

/** @internal What a session needs from its mailbox tracker. */
export interface SessionHost {
  readonly user: UserName;
  readonly mailbox: MailboxName;
  readonly index: MessageIndex | null;
  flagSet(flags: readonly Flag[]): FlagSet;
  /** A session now needs every message's modseq: the tracker reads storage if it lacks some. */
  needModseqs(): void;
}

/**
 * One selected session's view of a mailbox: sequence numbers as its client knows them,
 * and the untagged responses it still has to send. Create it with
 * `MailboxTracker.open` / `TrackerRegistry.select`; close it on CLOSE, UNSELECT, SELECT of
 * another mailbox and LOGOUT.
 */
export class SessionTracker {
  /** @internal */
  constructor(
    private readonly host: SessionHost,
    private readonly view: SessionView,
  ) {}

  get user(): UserName {
    return this.host.user;
  }

  /** The mailbox name, following renames. */
  get mailbox(): MailboxName {
    return this.host.mailbox;
  }

  /** Ended by `close()` or by a BYE: polls return nothing more. */
  get closed(): boolean {
    return this.view.closed;
  }

  /** Messages in the client's view (held-back expunged ones included). */
  get count(): number {
    return this.view.uids.length;
  }

  /** The view in sequence order; changes on the next poll, do not keep it. */
  get uids(): readonly Uid[] {
    return this.view.uids;
  }

  uidAt(seq: SeqNum): Uid | undefined {
    return Number.isInteger(seq) && seq >= 1 ? this.view.uids[seq - 1] : undefined;
  }

  seqOf(uid: Uid): SeqNum | undefined {
    const i = indexOfUid(this.view.uids, uid);
    return i < 0 ? undefined : i + 1;
  }

  /**
   * The client still sees this message but it is gone from the mailbox (an expunge held
   * back by `allowExpunge: false`). RFC 2180 §4.1: answer its FETCH with NO or without it.
   */
  isExpunged(uid: Uid): boolean {
    const index = this.host.index;
    return this.seqOf(uid) !== undefined && (index === null || !index.has(uid));
  }

  /** Something is waiting for the next poll. */
  get hasPending(): boolean {
    return this.view.pending;
  }

  /** Takes what the client must be told now, already numbered for this view. */
  poll(options: PollOptions): UntaggedResponse[] {
    return this.view.poll(this.host.index, options.allowExpunge);
  }

  /**
   * Calls `listener` (once per burst, asynchronously) when a poll would return something:
   * use it during IDLE. Returns the function that stops it.
   */
  watch(listener: () => void): () => void {
    return this.view.watch(listener);
  }

  /**
   * The session's own response told the client these flags for `uid` (FETCH with FLAGS,
   * or a non-silent STORE answered through `poll`). Later polls then send FETCH only for
   * flags that differ from what the client holds.
   */
  told(uid: Uid, flags: readonly Flag[], modseq?: number): void {
    this.view.told(uid, this.host.flagSet(flags), modseq);
  }

  /**
   * The client enabled CONDSTORE: from now on every FETCH it is sent carries a MODSEQ
   * (`poll` holds a flag change back until storage has told the tracker its modseq).
   */
  wantModseq(): void {
    if (this.view.wantsModseq) return;
    this.view.wantsModseq = true;
    this.host.needModseqs();
  }

  close(): void {
    this.view.close();
  }
}
