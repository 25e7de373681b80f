import { EventEmitter } from 'node:events';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { isPipeError } from '../../errors.js';
import { ALL_USERS, type MailboxName, type UserName } from '../../update/update.js';
import { DEFAULT_STALE_RULES, findStaleAnnouncements, type StaleRules } from '../announcement.js';
import { INBOX, mailboxOfFolderDirName } from '../mailbox-name.js';
import { isMaildir, mailboxPaths } from '../mailbox-paths.js';
import type { MaildirStore } from '../maildir-store.js';
import { validateUserName } from '../user-name.js';
import { AnnouncerLease, DEFAULT_LEASE, type LeaseOptions } from './announcer-lease.js';
import type { Announcer } from './announcer.js';
import { DirWatches, identityOf, type DirIdentity } from './dir-watches.js';
import { readScanMark, writeScanMark, type ScanMark } from './scan-mark.js';

export interface MaildirWatcherOptions {
  /** Where found changes go (it pushes them, and tells this process' sessions). */
  announcer: Announcer;
  log?: (line: string) => void;
  /** Safety rescan of every directory whose mtime changed, ms. */
  rescanIntervalMs?: number;
  /** Scan interval for directories that could not be watched (watch limit), ms. */
  fallbackScanMs?: number;
  /** How long the first event of a burst waits for the rest, ms. */
  debounceMs?: number;
  /** Most inotify watches this process takes (the kernel's limit is shared per user). */
  maxWatches?: number;
  /** Mailboxes scanned at once. */
  concurrency?: number;
  lease?: Partial<LeaseOptions>;
  stale?: Partial<StaleRules>;
}

export const WATCHER_DEFAULTS = {
  rescanIntervalMs: 60_000,
  fallbackScanMs: 2_000,
  debounceMs: 2,
  maxWatches: Number.POSITIVE_INFINITY,
  concurrency: 4,
} as const;

/** How often the announcer looks for markers of processes that died mid-announcement, ms. */
const SWEEP_MS = 1_000;
/**
 * Directory mtimes are coarse (a kernel tick): a change within the same tick as the scan
 * that recorded the mtime would not move it. A mark that recent is not trusted.
 */
const COARSE_MTIME_MS = 1_000;
/** Mailboxes checked between two turns of the event loop during a safety rescan. */
const RESCAN_SLICE = 256;
/** Users whose watches are set up at once (each lists its Maildir). */
const ADD_USERS_AT_ONCE = 16;

export type WatcherRole = 'starting' | 'announcer' | 'standby' | 'closed';

export interface WatcherStats {
  role: WatcherRole;
  users: number;
  mailboxes: number;
  watches: number;
  /** Directories scanned on a timer because they could not be watched. */
  polled: number;
  /** Mailbox scans run. */
  scans: number;
  /** Updates found and handed to the announcer. */
  found: number;
  /** Resyncs the watcher asked for (replaced directories, dead announcers, overflows). */
  resyncs: number;
  overflows: number;
  /** How long the last safety rescan took to stat every watched directory, ms. */
  rescanMs: number;
  /** Odd files seen (each once): not regular files, unusable names, empty, unreadable, vanished. */
  odd: number;
  errors: number;
}

/**
 * What a watched directory is: the tree root, a user's Maildir (INBOX and the folder
 * directories in it), a mailbox's new/ or cur/, or a directory on its way to becoming a
 * user or folder (`mkdir alice` now, `mkdir alice/cur …` later), watched until it is one.
 */
type Route =
  | { kind: 'root' }
  | { kind: 'user'; user: UserName }
  | { kind: 'messages'; user: UserName; mailbox: MailboxName }
  | { kind: 'pending-user' }
  | { kind: 'pending'; user: UserName };

interface WatchedMailbox {
  user: UserName;
  mailbox: MailboxName;
  dir: string;
  newDir: string;
  curDir: string;
  /** Identities when watched: a different one later means the directory was replaced. */
  watched: { new: DirIdentity | undefined; cur: DirIdentity | undefined };
  /** As of its last scan (by any announcer: read from disk when first watched). */
  mark: ScanMark | null;
}

interface WatchedUser {
  dir: string;
  id: string;
  mailboxes: Map<MailboxName, WatchedMailbox>;
  /** Folder directories that are not complete Maildirs yet, watched until they are. */
  pending: Set<string>;
}

const keyOf = (user: UserName, mailbox: MailboxName): string => `${user}\u0000${mailbox}`;
const ODD_MEMORY = 10_000;

/**
 * Turns what other tools do to a Maildir++ tree (an MDA renaming into new/, a MUA renaming
 * cur/X:2, to cur/X:2,S, a script deleting files, an admin making folders) into updates.
 * inotify says where to look; the store's scan says what changed, since it compares the
 * disk with what it last recorded, under the mailbox lock: every change is found once,
 * however many processes scan, and changes the store's own callers made are never found.
 *
 * One process per tree announces (the lease); the others stand by and take over when it
 * dies, catching up with a full scan. What inotify may have lost (queue overflow, the
 * watch limit, a replaced directory) becomes a rescan, and a resync where a change could
 * have gone unseen.
 */
export class MaildirWatcher extends EventEmitter {
  private readonly o: Required<Omit<MaildirWatcherOptions, 'log' | 'lease' | 'stale' | 'announcer'>>;
  private readonly lease: AnnouncerLease;
  private currentRole: WatcherRole = 'starting';
  private watches: DirWatches<Route> | null = null;
  private readonly users = new Map<UserName, WatchedUser>();
  /** User directories that are not complete Maildirs yet. */
  private pendingUsers = new Set<string>();
  private dirtyRoot = false;
  private readonly dirtyUsers = new Set<UserName>();
  private readonly dirtyMailboxes = new Map<string, { user: UserName; mailbox: MailboxName }>();
  private readonly scanning = new Set<string>();
  /** Scans under way (close waits for them: they write the UID list and a mark). */
  private readonly inFlight = new Set<Promise<void>>();
  private structural: Promise<void> = Promise.resolve();
  private kickTimer: NodeJS.Timeout | null = null;
  private timers: NodeJS.Timeout[] = [];
  private resyncAllAfterScan = false;
  private readonly oddSeen = new Set<string>();
  private generation = 0;
  /** Settles once the announcer has every watch in place. */
  private watching: Promise<void> | null = null;
  private readonly counters = { scans: 0, found: 0, resyncs: 0, overflows: 0, rescanMs: 0, odd: 0, errors: 0 };
  private readonly staleRules: StaleRules;

  constructor(
    private readonly store: MaildirStore,
    private readonly options: MaildirWatcherOptions,
  ) {
    super();
    this.o = {
      rescanIntervalMs: options.rescanIntervalMs ?? WATCHER_DEFAULTS.rescanIntervalMs,
      fallbackScanMs: options.fallbackScanMs ?? WATCHER_DEFAULTS.fallbackScanMs,
      debounceMs: options.debounceMs ?? WATCHER_DEFAULTS.debounceMs,
      maxWatches: options.maxWatches ?? WATCHER_DEFAULTS.maxWatches,
      concurrency: options.concurrency ?? WATCHER_DEFAULTS.concurrency,
    };
    this.staleRules = { ...DEFAULT_STALE_RULES, ...options.stale };
    this.lease = new AnnouncerLease(
      store.root,
      { elected: () => this.becomeAnnouncer(), deposed: () => this.standDown('another process took the lease over') },
      { ...DEFAULT_LEASE, ...options.lease },
    );
  }

  get role(): WatcherRole {
    return this.currentRole;
  }

  /** Nothing queued or being scanned: every change seen so far has been handed on. */
  get idle(): boolean {
    return !this.dirtyRoot && this.dirtyUsers.size === 0 && this.dirtyMailboxes.size === 0 && this.scanning.size === 0 && this.kickTimer === null;
  }

  stats(): WatcherStats {
    let mailboxes = 0;
    for (const u of this.users.values()) mailboxes += u.mailboxes.size;
    return {
      role: this.currentRole,
      users: this.users.size,
      mailboxes,
      watches: this.watches?.watchCount ?? 0,
      polled: this.watches?.polled.size ?? 0,
      ...this.counters,
    };
  }

  /**
   * Joins the election. Resolves once this process is watching (elected: every directory
   * has its watch, so any change from now on is seen) or standing by.
   */
  async start(): Promise<void> {
    await this.lease.start();
    if (this.watching !== null) await this.watching;
    else if (this.currentRole === 'starting') this.setRole('standby', await this.whoAnnounces());
  }

  async close(): Promise<void> {
    this.setRole('closed', 'closed');
    this.stopWatching();
    await Promise.allSettled([this.structural, ...this.inFlight]);
    await this.lease.close();
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  private setRole(role: WatcherRole, detail: string): void {
    if (this.currentRole === role) return;
    this.currentRole = role;
    this.emit('role', role, detail);
  }

  private async whoAnnounces(): Promise<string> {
    const h = await this.lease.holder();
    return h ? `pid ${h.pid} on ${h.host} announces for ${this.store.root}` : `waiting to announce for ${this.store.root}`;
  }

  // ---- roles ---------------------------------------------------------------------------

  private becomeAnnouncer(): void {
    if (this.currentRole === 'closed') return;
    this.watching = this.setUpAnnouncing();
  }

  private async setUpAnnouncing(): Promise<void> {
    const generation = ++this.generation;
    this.currentRole = 'announcer';
    this.watches = new DirWatches<Route>({
      maxWatches: this.o.maxWatches,
      onEvent: (route, name) => this.onEvent(route, name),
      onOverflow: () => this.overflowed('the inotify event queue overflowed'),
      onLimit: (message) => this.log(message),
    });
    try {
      const root = this.watches.add(this.store.root, { kind: 'root' });
      if (root === 'gone') this.log(`${this.store.root} is not a directory (yet): watching for users as soon as it is`);
      await this.scanUsers(false);
    } catch (err) {
      this.fail('setting up watches', err);
    }
    if (generation !== this.generation) return;
    // Catch up: whatever changed while nobody announced (the mailboxes whose directories
    // changed since their last scan, by the marks scans leave), and whatever a dead
    // announcer had recorded but not pushed (its markers).
    for (const user of this.users.keys()) this.dirtyUsers.add(user);
    void this.sweep();
    this.timers = [
      setInterval(() => this.rescan(), this.o.rescanIntervalMs),
      setInterval(() => this.scanPolled(), this.o.fallbackScanMs),
      setInterval(() => void this.sweep(), SWEEP_MS),
    ];
    for (const t of this.timers) t.unref();
    this.kick(0);
    this.emit('role', 'announcer', `announcing for ${this.store.root} (${this.watches.watchCount} watches, ${this.stats().mailboxes} mailboxes)`);
  }

  private standDown(why: string): void {
    if (this.currentRole !== 'announcer') return;
    this.stopWatching();
    this.setRole('standby', why);
  }

  private stopWatching(): void {
    this.generation++;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.kickTimer !== null) clearTimeout(this.kickTimer);
    this.kickTimer = null;
    this.watches?.closeAll();
    this.watches = null;
    this.users.clear();
    this.pendingUsers = new Set();
    this.dirtyRoot = false;
    this.dirtyUsers.clear();
    this.dirtyMailboxes.clear();
  }

  private get active(): boolean {
    return this.currentRole === 'announcer' && this.watches !== null;
  }

  // ---- events --------------------------------------------------------------------------

  private onEvent(route: Route, name: string | null): void {
    switch (route.kind) {
      case 'root':
        if (name === null || !name.startsWith('.')) this.dirtyRoot = true;
        else return; // the lease, in-flight markers
        break;
      case 'user':
        if (name === null) this.dirtyRoot = true;
        else if (name === 'cur' || name === 'new' || name === 'tmp') this.markMailbox(route.user, INBOX);
        else if (name.startsWith('.')) this.dirtyUsers.add(route.user);
        else return; // UID lists, locks and other files of INBOX
        break;
      case 'messages':
        this.markMailbox(route.user, route.mailbox);
        if (name === null) this.dirtyUsers.add(route.user);
        break;
      case 'pending':
        this.dirtyUsers.add(route.user);
        break;
      case 'pending-user':
        this.dirtyRoot = true;
        break;
    }
    this.kick(this.o.debounceMs);
  }

  private markMailbox(user: UserName, mailbox: MailboxName): void {
    this.dirtyMailboxes.set(keyOf(user, mailbox), { user, mailbox });
  }

  private overflowed(why: string): void {
    this.counters.overflows++;
    this.log(`${why}: rescanning every mailbox, then asking every server to re-read (resync)`);
    this.markEverything();
    this.resyncAllAfterScan = true;
    this.kick(this.o.debounceMs);
  }

  private markEverything(): void {
    this.dirtyRoot = true;
    for (const [user, u] of this.users) {
      this.dirtyUsers.add(user);
      for (const m of u.mailboxes.keys()) this.markMailbox(user, m);
    }
  }

  // ---- the work loop -------------------------------------------------------------------

  /** Runs what is dirty after `delayMs`: the tree's structure first, then mailboxes. */
  private kick(delayMs: number): void {
    if (!this.active || this.kickTimer !== null) return;
    this.kickTimer = setTimeout(() => {
      this.kickTimer = null;
      this.structural = this.structural.then(() => this.runStructure()).catch((err: unknown) => this.fail('scanning the tree', err));
    }, delayMs);
  }

  private async runStructure(): Promise<void> {
    const generation = this.generation;
    if (this.dirtyRoot) {
      this.dirtyRoot = false;
      await this.scanUsers(true);
    }
    const users = [...this.dirtyUsers];
    this.dirtyUsers.clear();
    for (let i = 0; i < users.length; i += this.o.concurrency * 2) {
      if (generation !== this.generation) return;
      await Promise.all(users.slice(i, i + this.o.concurrency * 2).map((u) => this.scanFolders(u)));
      this.pump();
    }
    if (generation !== this.generation) return;
    this.pump();
    this.maybeResyncAll();
  }

  /** Starts mailbox scans up to the concurrency limit; one scan per mailbox at a time. */
  private pump(): void {
    for (const [key, m] of this.dirtyMailboxes) {
      if (this.scanning.size >= this.o.concurrency) return;
      if (this.scanning.has(key)) continue;
      this.dirtyMailboxes.delete(key);
      this.scanning.add(key);
      const generation = this.generation;
      const scan = this.scanMailbox(m.user, m.mailbox, generation)
        .catch((err: unknown) => this.fail(`scanning ${m.user}/${m.mailbox}`, err))
        .finally(() => {
          this.scanning.delete(key);
          this.inFlight.delete(scan);
          if (generation !== this.generation) return;
          this.pump();
          this.maybeResyncAll();
        });
      this.inFlight.add(scan);
    }
  }

  /** After an overflow's full rescan has run: the resync for what no scan can prove. */
  private maybeResyncAll(): void {
    if (!this.resyncAllAfterScan || this.dirtyRoot || this.dirtyUsers.size > 0 || this.dirtyMailboxes.size > 0 || this.scanning.size > 0) return;
    this.resyncAllAfterScan = false;
    this.counters.resyncs++;
    void this.options.announcer.resync({ user: ALL_USERS, mailbox: undefined }, async () => {});
  }

  private fail(what: string, err: unknown): void {
    this.counters.errors++;
    this.log(`watcher: ${what} failed: ${(err as Error)?.message ?? err}`);
  }

  // ---- the tree ------------------------------------------------------------------------

  /** Users are the root's real directories that are Maildirs and have valid names. */
  private async scanUsers(announceChanges: boolean): Promise<void> {
    const found = new Map<UserName, string>();
    const pending = new Set<string>();
    const entries = await readdir(this.store.root, { withFileTypes: true }).catch(() => []);
    await Promise.all(
      entries.map(async (e) => {
        if (!e.isDirectory() || e.name.includes('\uFFFD')) return;
        try {
          validateUserName(e.name);
        } catch {
          return;
        }
        const dir = path.join(this.store.root, e.name);
        const id = identityOf(dir);
        if (id && (await isMaildir(dir))) found.set(e.name, id.id);
        else if (id) pending.add(dir);
      }),
    );
    if (!this.active) return;
    for (const dir of this.pendingUsers) if (!pending.has(dir)) this.watches?.remove(dir);
    for (const dir of pending) if (!this.pendingUsers.has(dir)) this.watchPending(dir, { kind: 'pending-user' });
    this.pendingUsers = pending;
    for (const [user, u] of [...this.users]) {
      if (found.get(user) === u.id) continue;
      this.dropUser(user);
      // Gone or replaced: its sessions must re-read (and learn what is left).
      if (announceChanges) this.resync(user, undefined);
    }
    const added = [...found].filter(([user]) => !this.users.has(user));
    for (let i = 0; i < added.length; i += ADD_USERS_AT_ONCE) {
      await Promise.all(added.slice(i, i + ADD_USERS_AT_ONCE).map(([user, id]) => this.addUser(user, id, announceChanges)));
    }
  }

  private async addUser(user: UserName, id: string, catchUp: boolean): Promise<void> {
    const dir = path.join(this.store.root, user);
    this.users.set(user, { dir, id, mailboxes: new Map(), pending: new Set() });
    this.watches?.add(dir, { kind: 'user', user });
    await this.syncMailboxWatches(user);
    if (catchUp) {
      this.dirtyUsers.add(user);
      for (const m of this.users.get(user)?.mailboxes.keys() ?? []) this.markMailbox(user, m);
    }
  }

  private dropUser(user: UserName): void {
    const u = this.users.get(user);
    if (!u) return;
    this.watches?.removeBelow(u.dir);
    this.users.delete(user);
    for (const key of [...this.dirtyMailboxes.keys()]) if (key.startsWith(`${user}\u0000`)) this.dirtyMailboxes.delete(key);
  }

  private async scanFolders(user: UserName): Promise<void> {
    if (!this.users.has(user)) return;
    try {
      const a = await this.store.discoverFolders(user);
      this.hand(a);
    } catch (err) {
      if (isPipeError(err, 'BAD_INPUT')) this.dirtyRoot = true; // the user went away
      else this.fail(`scanning the folders of ${user}`, err);
      return;
    }
    // A folder finished between the store's look and ours is watched now but was not
    // announced: the store looks once more.
    if ((await this.syncMailboxWatches(user)) > 0) {
      this.dirtyUsers.add(user);
      this.kick(this.o.debounceMs);
    }
  }

  /**
   * Watches new/ and cur/ of every mailbox of the user, and folders still being made.
   * Returns how many mailboxes it began to watch.
   */
  private async syncMailboxWatches(user: UserName): Promise<number> {
    const u = this.users.get(user);
    if (!u || !this.watches) return 0;
    const names = new Set<MailboxName>([INBOX]);
    const pending = new Set<string>();
    for (const e of await readdir(u.dir, { withFileTypes: true }).catch(() => [])) {
      if (!e.isDirectory()) continue;
      const name = mailboxOfFolderDirName(e.name);
      if (name === undefined) continue;
      if (await isMaildir(path.join(u.dir, e.name))) names.add(name);
      else pending.add(path.join(u.dir, e.name));
    }
    if (this.users.get(user) !== u || !this.watches) return 0;
    for (const m of [...u.mailboxes.keys()]) {
      if (names.has(m)) continue;
      const wm = u.mailboxes.get(m)!;
      this.watches.remove(wm.newDir);
      this.watches.remove(wm.curDir);
      u.mailboxes.delete(m);
      this.dirtyMailboxes.delete(keyOf(user, m));
    }
    const marked: WatchedMailbox[] = [];
    let added = 0;
    for (const m of names) {
      if (u.mailboxes.has(m)) continue;
      added++;
      const paths = mailboxPaths(u.dir, m);
      const wm: WatchedMailbox = { user, mailbox: m, dir: paths.dir, newDir: paths.new, curDir: paths.cur, watched: { new: undefined, cur: undefined }, mark: readScanMark(paths.dir) };
      u.mailboxes.set(m, wm);
      this.watchMessages(wm);
      if (wm.mark === null) this.markMailbox(user, m);
      else marked.push(wm);
    }
    await this.markChanged(marked, true);
    for (const dir of u.pending) if (!pending.has(dir)) this.watches.remove(dir);
    for (const dir of pending) if (!u.pending.has(dir)) this.watchPending(dir, { kind: 'pending', user });
    u.pending = pending;
    return added;
  }

  /**
   * Watches a directory on its way to becoming a Maildir. Its last subdirectory may have
   * been made between the look that found it incomplete and this watch, with no event
   * left to tell: so it is looked at once more now.
   */
  private watchPending(dir: string, route: Route & { kind: 'pending' | 'pending-user' }): void {
    this.watches?.add(dir, route);
    void isMaildir(dir).then((complete) => {
      if (!complete) return;
      this.onEvent(route, null);
    });
  }

  private watchMessages(wm: WatchedMailbox): void {
    const route: Route = { kind: 'messages', user: wm.user, mailbox: wm.mailbox };
    wm.watched = { new: identityOf(wm.newDir), cur: identityOf(wm.curDir) };
    this.watches?.add(wm.newDir, route, wm.watched.new);
    this.watches?.add(wm.curDir, route, wm.watched.cur);
  }

  // ---- mailboxes -----------------------------------------------------------------------

  private async scanMailbox(user: UserName, mailbox: MailboxName, generation: number): Promise<void> {
    const wm = this.users.get(user)?.mailboxes.get(mailbox);
    if (!wm) return;
    const at = Date.now();
    const n = identityOf(wm.newDir);
    const c = identityOf(wm.curDir);
    if (n === undefined || c === undefined) {
      this.dirtyUsers.add(user); // the mailbox is going or gone: the folder scan tells
      this.kick(this.o.debounceMs);
      return;
    }
    // A new/ or cur/ replaced under its name: its old watch saw nothing of the new one,
    // and (replaced since the last scan, watched or not) what changed in between is unknown.
    if (n.id !== wm.watched.new?.id || c.id !== wm.watched.cur?.id) this.watchMessages(wm);
    const replaced = wm.mark !== null && (n.id !== wm.mark.new.id || c.id !== wm.mark.cur.id);
    let found;
    try {
      found = await this.store.discover(user, mailbox);
    } catch (err) {
      if (!isPipeError(err, 'BAD_INPUT')) throw err;
      this.dirtyUsers.add(user);
      this.kick(this.o.debounceMs);
      return;
    }
    this.counters.scans++;
    this.noteOdd(found.odd);
    this.hand(found.announcement);
    if (replaced) this.resync(user, mailbox);
    if (generation !== this.generation) return;
    wm.mark = { at, new: n, cur: c };
    writeScanMark(wm.dir, wm.mark);
  }

  private hand(a: Awaited<ReturnType<MaildirStore['discover']>>['announcement']): void {
    if (a.updates.length === 0) return void a.done();
    this.counters.found += a.updates.length;
    void this.options.announcer.announce(a);
  }

  private resync(user: UserName, mailbox: MailboxName | undefined): void {
    this.counters.resyncs++;
    void this.options.announcer.resync({ user, mailbox }, async () => {});
  }

  private noteOdd(odd: readonly { path: string; why: string }[]): void {
    for (const f of odd) {
      const key = `${f.why}\u0000${f.path}`;
      if (this.oddSeen.has(key)) continue;
      if (this.oddSeen.size >= ODD_MEMORY) this.oddSeen.clear();
      this.oddSeen.add(key);
      this.counters.odd++;
      this.log(`watcher: ${f.why}: ${JSON.stringify(f.path)}`);
    }
  }

  // ---- safety nets ---------------------------------------------------------------------

  /** Every mailbox whose new/ or cur/ changed since its last scan (by mtime and inode). */
  private rescan(): void {
    if (!this.active) return;
    this.dirtyRoot = true;
    for (const user of this.users.keys()) this.dirtyUsers.add(user);
    const t0 = performance.now();
    void this.markChanged([...this.users.values()].flatMap((u) => [...u.mailboxes.values()])).then(() => {
      this.counters.rescanMs = performance.now() - t0;
      this.kick(0);
    });
  }

  /** Directories on the fallback list (watch limit reached), more often. */
  private scanPolled(): void {
    const watches = this.watches;
    if (!this.active || !watches || watches.polled.size === 0) return;
    const mailboxes = new Map<string, WatchedMailbox>();
    for (const route of watches.polled.values()) {
      if (route.kind === 'messages') {
        const wm = this.users.get(route.user)?.mailboxes.get(route.mailbox);
        if (wm) mailboxes.set(keyOf(route.user, route.mailbox), wm);
      } else if (route.kind === 'root' || route.kind === 'pending-user') this.dirtyRoot = true;
      else this.dirtyUsers.add(route.user);
    }
    void this.markChanged([...mailboxes.values()]).then(() => this.kick(0));
  }

  /** Two lstats per mailbox, in slices, so a server's event loop is never held for long. */
  private async markChanged(mailboxes: WatchedMailbox[], justWatched = false): Promise<void> {
    for (let i = 0; i < mailboxes.length; i++) {
      if (i % RESCAN_SLICE === RESCAN_SLICE - 1) await new Promise((r) => setImmediate(r));
      const wm = mailboxes[i]!;
      // Just watched: the identities were read a moment ago, before the watch was set, so
      // a change since would have raised an event.
      const n = justWatched ? wm.watched.new : identityOf(wm.newDir);
      const c = justWatched ? wm.watched.cur : identityOf(wm.curDir);
      const m = wm.mark;
      const trusted = m !== null && m.new.mtimeMs < m.at - COARSE_MTIME_MS && m.cur.mtimeMs < m.at - COARSE_MTIME_MS;
      const same = m !== null && n?.id === m.new.id && n.mtimeMs === m.new.mtimeMs && c?.id === m.cur.id && c.mtimeMs === m.cur.mtimeMs;
      if (!trusted || !same) this.markMailbox(wm.user, wm.mailbox);
    }
  }

  /** Markers of processes that died between recording changes and announcing them. */
  private async sweep(): Promise<void> {
    if (!this.active) return;
    for (const s of await findStaleAnnouncements(this.store.root, this.staleRules).catch(() => [])) {
      if (!this.active) return;
      this.log(`a process died while announcing changes to ${s.user}/${s.mailbox ?? '*'}: resync`);
      this.counters.resyncs++;
      void this.options.announcer.resync({ user: s.user, mailbox: s.mailbox }, s.clear);
    }
  }
}
