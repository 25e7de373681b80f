import { UidSet } from '../update/uid-set.js';
import { ALL_USERS, type MailboxName, type MailboxUpdate, type ResyncUpdate, type Update, type UserName } from '../update/update.js';
import type { MailboxState } from './mailbox-state.js';
import { MailboxTracker, type ResyncCause } from './mailbox-tracker.js';
import type { SessionTracker } from './session-tracker.js';

/**
 * What routing reads of where an update came from: structurally a part of the pipe's
 * `Meta`, so `pipe.listen(registry.handler())` fits any pipe without the tracker
 * depending on one.
 */
export interface Delivery {
  /** Newer updates of its origin were delivered before it. */
  late?: true;
}

/** The handler the registry gives a pipe. */
export type DeliveryHandler = (u: Update, meta: Delivery) => void;

export interface RegistryOptions {
  /** See `MailboxTrackerOptions.onResyncNeeded`: read `tracker.user`/`tracker.mailbox`, then `tracker.resync(state)`. */
  onResyncNeeded: (tracker: MailboxTracker, cause: ResyncCause) => void;
  maxPending?: number;
  /**
   * The server's hierarchy delimiter: renaming `a` then also moves `a<delim>b`. Without it
   * only the exact name moves.
   */
  hierarchyDelimiter?: string;
  /**
   * What sessions of a renamed mailbox see. `follow` (default): nothing, they go on under
   * the new name (messages and UIDs are unchanged; RFC 2180 §3 lets other sessions keep
   * access). `bye`: they are disconnected (RFC 2180 §3.3).
   */
  onRename?: 'follow' | 'bye';
}

export interface ApplyContext {
  /** From the pipe, for an update it delivered. */
  meta?: Delivery;
  /**
   * For this process' own STORE: the acting session is not sent FETCH for its own change.
   * Only `flags` updates use it: after its own EXPUNGE or APPEND the acting session polls
   * and gets the ordinary EXPUNGE/EXISTS responses, numbered for its view.
   */
  exclude?: SessionTracker;
}

/** INBOX is case-insensitive (RFC 9051 §5.1); every other name is compared exactly. */
export function canonicalMailbox(name: MailboxName): MailboxName {
  return name.length === 5 && name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

/**
 * The trackers of one IMAP server process, by (user, mailbox). A tracker lives while a
 * session has its mailbox selected (or a storage read for it is in flight); updates for
 * mailboxes nobody here has selected are dropped, as nobody needs them.
 *
 * ```ts
 * const registry = new TrackerRegistry({
 *   onResyncNeeded: (t) => storage.read(t.user, t.mailbox).then((s) => t.resync(s), () => t.resyncFailed()),
 * });
 * pipe.listen(registry.handler());
 *
 * // SELECT: answer from the state read; it is exactly the session's view.
 * session = await registry.select(user, name, async () => (state = await storage.read(user, name)));
 * // After every command, before its tagged OK (allowExpunge: false for FETCH/STORE/SEARCH):
 * write(formatUntaggedLines(session.poll({ allowExpunge })));
 * // IDLE:
 * const stop = session.watch(() => write(formatUntaggedLines(session.poll({ allowExpunge: true }))));
 * // Own changes: apply locally, push to the other processes.
 * registry.apply(u, { exclude: session }); // STORE: its FETCH came with the command
 * registry.apply(u);                       // EXPUNGE/APPEND: the poll gives the responses
 * await pipe.push(u);
 * ```
 */
export class TrackerRegistry {
  private readonly users = new Map<UserName, Map<MailboxName, MailboxTracker>>();

  constructor(private readonly opts: RegistryOptions) {}

  /** Trackers alive. */
  get size(): number {
    let n = 0;
    for (const m of this.users.values()) n += m.size;
    return n;
  }

  get(user: UserName, mailbox: MailboxName): MailboxTracker | undefined {
    return this.users.get(user)?.get(canonicalMailbox(mailbox));
  }

  /** SELECT/EXAMINE: see `MailboxTracker.open`. */
  select(user: UserName, mailbox: MailboxName, read: () => Promise<MailboxState>): Promise<SessionTracker> {
    return this.trackerFor(user, mailbox).open(read);
  }

  /** The pipe's handler: `pipe.listen(registry.handler())`. */
  handler(): DeliveryHandler {
    return (u, meta) => this.apply(u, { meta });
  }

  /** Routes one update, from the pipe or from this process' own commands. */
  apply(u: Update, ctx: ApplyContext = {}): void {
    switch (u.type) {
      case 'exists':
        this.get(u.user, u.mailbox)?.exists(UidSet.parse(u.uids), u);
        return;
      case 'expunge':
        this.get(u.user, u.mailbox)?.expunge(UidSet.parse(u.uids), u);
        return;
      case 'flags': {
        const t = this.get(u.user, u.mailbox);
        if (t === undefined) return;
        if (ctx.meta?.late === true && u.modseq === undefined) {
          // Overtaken by newer updates of its origin, maybe for this very message: without a
          // modseq to order them, applying it could leave the client with old flags.
          t.requestResync('uncertain');
          return;
        }
        const opts: Parameters<MailboxTracker['flags']>[2] = {};
        if (u.uidValidity !== undefined) opts.uidValidity = u.uidValidity;
        if (u.modseq !== undefined) opts.modseq = u.modseq;
        if (ctx.exclude !== undefined) opts.exclude = ctx.exclude;
        t.flags(u.uid, u.flags, opts);
        return;
      }
      case 'mailbox':
        this.applyMailbox(u);
        return;
      case 'resync':
        for (const t of this.resyncScope(u)) t.requestResync('pipe');
        return;
    }
  }

  private trackerFor(user: UserName, mailbox: MailboxName): MailboxTracker {
    const name = canonicalMailbox(mailbox);
    let byName = this.users.get(user);
    if (byName === undefined) {
      byName = new Map();
      this.users.set(user, byName);
    }
    let t = byName.get(name);
    if (t === undefined) {
      const opts: ConstructorParameters<typeof MailboxTracker>[2] = {
        onResyncNeeded: this.opts.onResyncNeeded,
        onIdle: (idle) => this.forget(idle),
      };
      if (this.opts.maxPending !== undefined) opts.maxPending = this.opts.maxPending;
      t = new MailboxTracker(user, name, opts);
      byName.set(name, t);
    }
    return t;
  }

  private forget(t: MailboxTracker): void {
    const byName = this.users.get(t.user);
    if (byName?.get(t.mailbox) !== t) return;
    byName.delete(t.mailbox);
    if (byName.size === 0) this.users.delete(t.user);
  }

  private resyncScope(u: ResyncUpdate): MailboxTracker[] {
    if (u.user === ALL_USERS) return [...this.users.values()].flatMap((m) => [...m.values()]);
    if (u.mailbox !== undefined) {
      const t = this.get(u.user, u.mailbox);
      return t === undefined ? [] : [t];
    }
    return [...(this.users.get(u.user)?.values() ?? [])];
  }

  private applyMailbox(u: MailboxUpdate): void {
    const from = canonicalMailbox(u.mailbox);
    if (u.op === 'delete') {
      this.get(u.user, from)?.end('deleted');
      return;
    }
    if (u.op !== 'rename' || u.to === undefined) return; // create/subscribe change no selected mailbox
    if (from === 'INBOX') {
      // RENAME INBOX moves its messages out and leaves an empty INBOX (RFC 9051 §6.3.6).
      this.get(u.user, from)?.requestResync('pipe');
      return;
    }
    const byName = this.users.get(u.user);
    if (byName === undefined) return;
    const delim = this.opts.hierarchyDelimiter;
    const moved = [...byName.values()].filter(
      (t) => t.mailbox === from || (delim !== undefined && delim !== '' && t.mailbox.startsWith(from + delim)),
    );
    for (const t of moved) {
      if (this.opts.onRename === 'bye') {
        t.end('renamed');
        continue;
      }
      const to = canonicalMailbox(u.to + t.mailbox.slice(from.length));
      byName.delete(t.mailbox);
      // A tracker already under the new name watched a mailbox that no longer exists.
      byName.get(to)?.end('deleted');
      t.renamed(to);
      byName.set(to, t);
    }
  }
}
