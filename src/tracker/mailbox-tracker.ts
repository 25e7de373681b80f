import type { Uid, UidSet } from '../update/uid-set.js';
import type { Flag, MailboxName, UserName } from '../update/update.js';
import { FlagSetPool } from './flag-set.js';
import type { MailboxState } from './mailbox-state.js';
import { MessageIndex } from './message-index.js';
import { ReadJournal, type MessageChange } from './read-journal.js';
import { SessionTracker, type SessionHost } from './session-tracker.js';
import { SessionView } from './session-view.js';
import { diffMessages, indexOfUid } from './sorted-uids.js';
import type { ByeReason } from './untagged.js';

/**
 * Why storage must be re-read:
 * - `pipe`: a `resync` update (the pipe lost updates, or someone asked);
 * - `uncertain`: an update named a message that only storage can place, or a read turned
 *   out to be incomplete;
 * - `requested`: `requestResync()` without a cause.
 */
export type ResyncCause = 'pipe' | 'uncertain' | 'requested';

export const DEFAULT_MAX_PENDING = 10_000;

export interface MailboxTrackerOptions {
  /**
   * Read the mailbox from storage, then call `tracker.resync(state)` (or `resyncFailed()`).
   * Called from a microtask, so it must not throw. Start the read after the call: changes
   * from then on are journaled and replayed on top of the read. At most one request is
   * outstanding per tracker; causes meanwhile are folded into one more request after it.
   */
  onResyncNeeded: (tracker: MailboxTracker, cause: ResyncCause) => void;
  /** Bound on each session's pending changes and on each read's journal. */
  maxPending?: number;
  /** @internal No session and no read left: the registry forgets the tracker. */
  onIdle?: (tracker: MailboxTracker) => void;
}

/** Scope of a change, as in `Update`: a differing `uidValidity` is another mailbox incarnation. */
export interface ChangeScope {
  uidValidity?: number;
  modseq?: number;
}

export interface FlagsChangeOptions extends ChangeScope {
  /**
   * The session whose own command (STORE) made the change and already told its client:
   * it gets no FETCH for it.
   */
  exclude?: SessionTracker;
}

/**
 * Everything one process tracks for one (user, mailbox): the shared index and the views of
 * the sessions that have it selected. Feed it every change (from the pipe and from this
 * process' own commands); each session polls for its responses.
 */
export class MailboxTracker {
  readonly user: UserName;
  private name: MailboxName;
  private index: MessageIndex | null = null;
  private readonly sessions = new Map<SessionTracker, SessionView>();
  private readonly journals = new Set<ReadJournal>();
  private resyncJournal: ReadJournal | null = null;
  private resyncAgain = false;
  private readonly pool = new FlagSetPool();
  private readonly maxPending: number;
  private readonly host: SessionHost;

  constructor(
    user: UserName,
    mailbox: MailboxName,
    private readonly opts: MailboxTrackerOptions,
  ) {
    this.user = user;
    this.name = mailbox;
    this.maxPending = opts.maxPending ?? DEFAULT_MAX_PENDING;
    const self = this;
    this.host = {
      get user() {
        return self.user;
      },
      get mailbox() {
        return self.name;
      },
      get index() {
        return self.index;
      },
      flagSet: (flags) => this.pool.of(flags),
      needModseqs: () => {
        if (this.index !== null && !this.index.allModseqsKnown) this.requestResync('uncertain');
      },
    };
  }

  get mailbox(): MailboxName {
    return this.name;
  }

  /** Of the last storage read; `undefined` before the first one completes. */
  get uidValidity(): number | undefined {
    return this.index?.uidValidity;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** A resync was requested and `resync(state)` has not been called yet. */
  get resyncPending(): boolean {
    return this.resyncJournal !== null;
  }

  /** No session, no SELECT reading and no resync request unanswered: nothing to keep. */
  get idle(): boolean {
    return this.sessions.size === 0 && this.journals.size === 0;
  }

  /**
   * SELECT/EXAMINE: `read` loads the mailbox from storage; answer the SELECT from the state
   * it returns, which is exactly the new session's view. Changes that arrive during the
   * read are queued for the session's first poll.
   */
  async open(read: () => Promise<MailboxState>): Promise<SessionTracker> {
    const journal = new ReadJournal(this.maxPending);
    this.journals.add(journal);
    let target: MessageIndex;
    try {
      target = MessageIndex.fromState(await read(), this.pool);
    } catch (err) {
      this.journals.delete(journal);
      this.releaseIfIdle();
      throw err;
    }
    this.journals.delete(journal);
    const snapshot = target.messages;
    const { session, view } = this.openView(snapshot.uids.slice(), snapshot.flags.slice());
    // What the client is shown is the read: the modseqs of its flags are the read's too.
    for (const u of snapshot.uids) {
      const m = target.modseqOf(u);
      if (m !== undefined) view.told(u, view.flags[indexOfUid(view.uids, u)] ?? null, m);
    }
    const merged = this.merge(target, journal);
    if (merged === 'outdated') {
      // Read before a newer incarnation was seen: the client got numbers that are void.
      view.end('uidvalidity');
      this.releaseIfIdle();
      return session;
    }
    this.sessions.set(session, view);
    diffMessages(view, this.index!.messages, (_d, uid) => view.touch(uid));
    if (merged === 'read-again') this.requestResync('uncertain');
    return session;
  }

  exists(uids: UidSet, scope: ChangeScope = {}): void {
    const change: MessageChange = { type: 'exists', uids, ...uidValidityOf(scope) };
    if (scope.modseq !== undefined) change.modseq = scope.modseq;
    const index = this.admit(change);
    if (index === null) return;
    const { added, unplaceable } = index.addExisting(uids, this.maxPending, scope.modseq);
    for (const u of added) this.touch(u, undefined);
    if (unplaceable) this.requestResync('uncertain');
  }

  expunge(uids: UidSet, scope: ChangeScope = {}): void {
    const index = this.admit({ type: 'expunge', uids, ...uidValidityOf(scope) });
    if (index === null) return;
    for (const u of index.remove(uids)) this.touch(u, undefined);
    if (index.overflowed) this.requestResync('uncertain');
  }

  /** `flags` is the full new set, not a delta. */
  flags(uid: Uid, flags: readonly Flag[], options: FlagsChangeOptions = {}): void {
    const set = this.pool.of(flags);
    const change: MessageChange = { type: 'flags', uid, flags: set, ...uidValidityOf(options) };
    if (options.modseq !== undefined) change.modseq = options.modseq;
    const index = this.admit(change);
    if (index === null) return;
    const outcome = index.setFlags(uid, set, options.modseq);
    if (outcome === 'unplaceable') this.requestResync('uncertain');
    if (outcome !== 'changed' && outcome !== 'unchanged') return;
    const own = options.exclude === undefined ? undefined : this.sessions.get(options.exclude);
    own?.acknowledge(uid, set, options.modseq);
    // Unchanged in the index may still be news to a session whose own FETCH told its client
    // newer flags from storage than the index had then: each view compares for itself.
    this.touch(uid, own);
    // A change without a modseq: CONDSTORE clients must be told one (RFC 7162 §3.1.4), and
    // only storage knows it now.
    if (options.modseq === undefined && this.anyWantsModseq()) this.requestResync('uncertain');
  }

  private anyWantsModseq(): boolean {
    for (const v of this.sessions.values()) if (v.wantsModseq) return true;
    return false;
  }

  /** Asks the server (via `onResyncNeeded`) to read the mailbox from storage. */
  requestResync(cause: ResyncCause = 'requested'): void {
    // Reads already in flight may have started before whatever made this necessary.
    for (const j of this.journals) j.markIncomplete();
    if (this.resyncJournal !== null) {
      this.resyncAgain = true;
      return;
    }
    if (this.sessions.size === 0) return; // a SELECT in flight repeats its read anyway
    const journal = new ReadJournal(this.maxPending);
    this.resyncJournal = journal;
    this.journals.add(journal);
    queueMicrotask(() => this.opts.onResyncNeeded(this, cause));
  }

  /**
   * The server's fresh read of storage, answering `onResyncNeeded`. Every session gets what
   * differs from its view: EXPUNGE for vanished messages, EXISTS for new ones, FETCH for
   * changed flags. Called with no request outstanding, the state is trusted to be current.
   */
  resync(state: MailboxState): void {
    const target = MessageIndex.fromState(state, this.pool); // a bad state throws before the request is consumed
    const journal = this.takeResyncJournal();
    let again = this.resyncAgain;
    this.resyncAgain = false;
    if (this.sessions.size === 0) {
      this.releaseIfIdle();
      return;
    }
    const merged = this.merge(target, journal);
    if (merged !== 'merged') again = true;
    if (this.sessions.size === 0) this.releaseIfIdle();
    else if (again) this.requestResync('uncertain');
  }

  /**
   * The read for the outstanding request failed and will not be answered. Sessions keep
   * their views; call `requestResync()` to try again when storage is back.
   */
  resyncFailed(): void {
    this.takeResyncJournal();
    this.resyncAgain = false;
    this.releaseIfIdle();
  }

  /**
   * Ends every session with a BYE, e.g. when the mailbox was deleted. An outstanding
   * resync request stays outstanding: its answer must not be mistaken for a later one's.
   */
  end(reason: ByeReason): void {
    for (const view of this.sessions.values()) view.end(reason);
    this.sessions.clear();
    this.releaseIfIdle();
  }

  /** @internal The registry moved this tracker to a new name. */
  renamed(to: MailboxName): void {
    this.name = to;
  }

  private openView(uids: Uid[], flags: SessionView['flags']): { session: SessionTracker; view: SessionView } {
    let session: SessionTracker | undefined;
    const view = new SessionView(uids, flags, this.maxPending, () => {
      if (session !== undefined && this.sessions.delete(session)) this.releaseIfIdle();
    });
    session = new SessionTracker(this.host, view);
    return { session, view };
  }

  /** Journals the change; returns the index to apply it to, if any. */
  private admit(change: MessageChange): MessageIndex | null {
    for (const j of this.journals) j.record(change);
    const index = this.index;
    if (index === null) return null;
    const uv = change.uidValidity;
    if (uv !== undefined && uv !== index.uidValidity) {
      // Lower: a late update from before the mailbox was recreated.
      if (uv > index.uidValidity) this.end('uidvalidity');
      return null;
    }
    return index;
  }

  private touch(uid: Uid, except: SessionView | undefined): void {
    for (const view of this.sessions.values()) if (view !== except) view.touch(uid);
  }

  /** Makes `target` (a read plus the journal of changes during it) the shared index. */
  private merge(target: MessageIndex, journal: ReadJournal | null): 'merged' | 'read-again' | 'outdated' {
    const readAgain = journal !== null && journal.replay(target, this.maxPending).readAgain;
    const old = this.index;
    if (old !== null && target.uidValidity < old.uidValidity) return 'outdated';
    // A read that storage answered before the one the index holds (a slow SELECT overtaken
    // by a later resync): the index already has everything it has, and more that is still
    // on its way through the pipe. Replacing it would take back what sessions were shown.
    if (old !== null && target.uidValidity === old.uidValidity && target.readModseq > 0 && target.readModseq < old.readModseq) return 'merged';
    if (old !== null && target.uidValidity > old.uidValidity) {
      for (const view of this.sessions.values()) view.end('uidvalidity');
      this.sessions.clear();
    }
    this.index = target;
    if (old !== null && old.uidValidity === target.uidValidity && this.sessions.size > 0) {
      // Same flags at a newer modseq is news too: a session whose own FETCH told its client
      // other flags in between (storage ahead of the old index) must compare again, and the
      // update that carried the change is older than this read, so it will come as stale.
      const newerModseq = (uid: Uid): boolean => {
        const m = target.modseqOf(uid);
        return m !== undefined && m !== old.modseqOf(uid);
      };
      diffMessages(old.messages, target.messages, (_d, uid) => this.touch(uid, undefined), newerModseq);
    }
    // Changes a view held back for want of a modseq can be told now: wake its IDLE.
    for (const view of this.sessions.values()) view.nudge();
    return readAgain ? 'read-again' : 'merged';
  }

  private takeResyncJournal(): ReadJournal | null {
    const journal = this.resyncJournal;
    this.resyncJournal = null;
    if (journal !== null) this.journals.delete(journal);
    return journal;
  }

  /** Without sessions the index is dropped (a SELECT loads its own); without reads too, the tracker. */
  private releaseIfIdle(): void {
    if (this.sessions.size > 0) return;
    this.index = null;
    if (this.idle) this.opts.onIdle?.(this);
  }
}

function uidValidityOf(scope: ChangeScope): { uidValidity?: number } {
  return scope.uidValidity === undefined ? {} : { uidValidity: scope.uidValidity };
}
