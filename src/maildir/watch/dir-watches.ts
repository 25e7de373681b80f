import { lstatSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { folderIdentity } from '../folder-record.js';

/**
 * A directory as last seen: `id` (inode and birth time: ext4 reuses a freed inode at
 * once) tells a directory replaced under the same name; `mtimeMs` tells a change in it.
 */
export interface DirIdentity {
  id: string;
  mtimeMs: number;
}

/** Synchronous, like the store's metadata calls (see src/maildir/atomic-file.ts): one lstat. */
export function identityOf(dir: string): DirIdentity | undefined {
  // lstat: a symbolic link is never watched or scanned, whatever it points to.
  const s = lstatSync(dir, { throwIfNoEntry: false });
  return s?.isDirectory() ? { id: folderIdentity(s), mtimeMs: s.mtimeMs } : undefined;
}

export interface DirWatchesOptions<T> {
  /** Most inotify watches this process takes; past it, directories are scanned instead. */
  maxWatches: number;
  /** Something changed in (or to) a watched directory. `name` is the entry, when known. */
  onEvent: (route: T, name: string | null) => void;
  /**
   * A poll phase brought as many events as the kernel queues (max_queued_events): the
   * queue overflowed, and libuv drops the overflow notice, so events were lost unseen.
   */
  onOverflow: () => void;
  /** The watch limit was reached for the first time (ENOSPC, or `maxWatches`). */
  onLimit: (message: string) => void;
}

export type WatchOutcome = 'watched' | 'polled' | 'gone';

/** The kernel's per-instance event queue; an overflow loses everything past it. */
function maxQueuedEvents(): number {
  try {
    const n = Number(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8').trim());
    return Number.isSafeInteger(n) && n > 0 ? n : 16_384;
  } catch {
    return 16_384;
  }
}

function maxUserWatches(): string {
  try {
    return readFileSync('/proc/sys/fs/inotify/max_user_watches', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/**
 * inotify watches on directories (fs.watch is inotify on Linux), each with a route the
 * caller chose. Directories that cannot be watched (the watch limit reached) are listed as
 * polled, for the caller to scan on a timer instead.
 */
export class DirWatches<T> {
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly polledDirs = new Map<string, T>();
  private readonly queueLimit = maxQueuedEvents();
  private eventsThisPhase = 0;
  private phaseTimer: NodeJS.Immediate | null = null;
  private limitReported = false;
  private closed = false;

  constructor(private readonly o: DirWatchesOptions<T>) {}

  get watchCount(): number {
    return this.watchers.size;
  }

  get polled(): ReadonlyMap<string, T> {
    return this.polledDirs;
  }

  has(dir: string): boolean {
    return this.watchers.has(dir) || this.polledDirs.has(dir);
  }

  /**
   * Watches `dir` if it is a real directory (never a symbolic link). `seen`: its identity
   * as the caller just read it (saves a stat); undefined means it is not a directory.
   */
  add(dir: string, route: T, seen: DirIdentity | undefined | null = null): WatchOutcome {
    if (this.closed) return 'gone';
    if (this.has(dir)) this.remove(dir);
    if ((seen === null ? identityOf(dir) : seen) === undefined) return 'gone';
    if (this.watchers.size >= this.o.maxWatches) return this.poll(dir, route, `the watch limit of this process (--max-watches ${this.o.maxWatches}) is reached`);
    let w: FSWatcher;
    try {
      w = watch(dir, { persistent: false }, (_type, name) => this.event(route, name === null ? null : String(name)));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC') return this.poll(dir, route, `the inotify watch limit (fs.inotify.max_user_watches = ${maxUserWatches()}) is reached`);
      if (code === 'ENOENT' || code === 'ENOTDIR') return 'gone';
      throw err;
    }
    // The directory went away or was replaced: the caller looks again and re-adds it.
    w.on('error', () => {
      this.remove(dir);
      this.o.onEvent(route, null);
    });
    this.watchers.set(dir, w);
    return 'watched';
  }

  remove(dir: string): void {
    this.watchers.get(dir)?.close();
    this.watchers.delete(dir);
    this.polledDirs.delete(dir);
  }

  /** Removes every watch at or below `prefix` (a user's Maildir, say). */
  removeBelow(prefix: string): void {
    for (const dir of [...this.watchers.keys(), ...this.polledDirs.keys()]) {
      if (dir === prefix || dir.startsWith(prefix + path.sep)) this.remove(dir);
    }
  }

  closeAll(): void {
    this.closed = true;
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.polledDirs.clear();
    if (this.phaseTimer !== null) clearImmediate(this.phaseTimer);
  }

  private poll(dir: string, route: T, why: string): WatchOutcome {
    this.polledDirs.set(dir, route);
    if (!this.limitReported) {
      this.limitReported = true;
      this.o.onLimit(`${why}: ${dir} and any further directories are scanned periodically instead of watched (raise it with sysctl fs.inotify.max_user_watches=N)`);
    }
    return 'polled';
  }

  private event(route: T, name: string | null): void {
    // libuv hands every event read in one poll phase over before the loop moves on, so a
    // full kernel queue shows up as that many events before the next check phase.
    if (this.eventsThisPhase++ === 0) {
      this.phaseTimer = setImmediate(() => {
        this.phaseTimer = null;
        this.eventsThisPhase = 0;
      });
    }
    if (this.eventsThisPhase === this.queueLimit) this.o.onOverflow();
    this.o.onEvent(route, name);
  }
}
