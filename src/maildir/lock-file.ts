import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { PipeError } from '../errors.js';
import { KeyedMutex } from './keyed-mutex.js';
import { randomBytes } from '../random-bytes.js';
import { unlinkQuietly } from './unlink-quietly.js';

export interface LockOptions {
  /** Give up (PipeError TIMEOUT) after waiting this long in total. */
  timeoutMs: number;
  /** A lock file not refreshed for this long is considered abandoned. */
  staleMs: number;
}

// The wait outlasts staleMs so a lock left by a hung holder is broken, not timed out on.
export const DEFAULT_LOCK_OPTIONS: LockOptions = { timeoutMs: 15_000, staleMs: 10_000 };

export interface HeldLock {
  /**
   * Removes the lock file if it is still ours. `movedTo` is where it is now when the
   * directory holding it was renamed while it was held.
   */
  release(movedTo?: string): Promise<void>;
  /** False once someone broke the lock (we stalled past `staleMs`) and it is no longer ours. */
  stillHeld(): Promise<boolean>;
}

/** Who holds a lock (or any file written the same way): `pid host token`. */
export interface Holder {
  pid: number;
  host: string;
  token: string;
}

const inProcess = new KeyedMutex();
const heldTokens = new Set<string>();
export const HOST = hostname();

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

export function parseHolder(text: string): Holder | undefined {
  const m = /^([1-9][0-9]{0,9}) (\S+) ([0-9a-f]+)\n$/.exec(text);
  return m ? { pid: Number(m[1]), host: m[2]!, token: m[3]! } : undefined;
}

export function processIsGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return errnoOf(e) === 'ESRCH'; // EPERM: it exists, it just is not ours to signal
  }
}

/**
 * Abandoned when its holder on this host is gone, when it carries our own pid but not a
 * token we hold (a previous process with a recycled pid), or when nobody refreshed it for
 * `staleMs` (holder hung, on another host, or crashed before writing its pid).
 */
function isAbandoned(holder: Holder | undefined, ageMs: number, staleMs: number): boolean {
  if (ageMs > staleMs) return true;
  if (holder === undefined || holder.host !== HOST) return false;
  if (holder.pid === process.pid) return !heldTokens.has(holder.token);
  return processIsGone(holder.pid);
}

/** O_EXCL create with our holder line. Synchronous: it is on every store call (see atomic-file.ts). */
function tryCreate(file: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o644);
  } catch (e) {
    if (errnoOf(e) === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, content);
  } catch (e) {
    closeSync(fd);
    unlinkQuietly(file);
    throw e;
  }
  closeSync(fd);
  return true;
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Deletes `file` if it is abandoned. Breakers are serialised through a second O_EXCL file
 * and re-check the lock's identity (inode + mtime) under it, so two waiters that both saw
 * the same dead lock cannot end with one of them deleting the other's fresh lock.
 * Returns true when the caller should retry at once.
 */
async function breakIfAbandoned(file: string, staleMs: number): Promise<boolean> {
  let seen;
  let holder: Holder | undefined;
  try {
    seen = statSync(file);
    holder = parseHolder(readFileSync(file, 'utf8'));
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return true;
    throw e;
  }
  if (!isAbandoned(holder, Date.now() - seen.mtimeMs, staleMs)) return false;

  const breaker = `${file}.break`;
  if (!tryCreate(breaker, `${process.pid} ${HOST} 0\n`)) {
    // A breaker that crashed between its two syscalls would block everyone forever.
    const b = statSync(breaker, { throwIfNoEntry: false });
    if (b && Date.now() - b.mtimeMs > staleMs) unlinkQuietly(breaker);
    return false;
  }
  try {
    const now = statSync(file, { throwIfNoEntry: false });
    if (now && now.ino === seen.ino && now.dev === seen.dev && now.mtimeMs === seen.mtimeMs) unlinkQuietly(file);
  } finally {
    unlinkQuietly(breaker);
  }
  return true;
}

function backoffMs(attempt: number): number {
  const base = Math.min(2 * 2 ** attempt, 40);
  return base / 2 + Math.random() * base; // jitter keeps waiting processes out of lockstep
}

/**
 * Takes the lock `file` (created with O_EXCL, holding "pid host token"), waiting with
 * jittered retries and breaking abandoned locks. While held the file's mtime is refreshed
 * so a slow but live holder is never mistaken for an abandoned one. Errors other than
 * "already locked" (e.g. ENOENT: the directory is gone) are thrown unchanged.
 */
export async function acquireLock(file: string, options: LockOptions = DEFAULT_LOCK_OPTIONS): Promise<HeldLock> {
  const deadline = Date.now() + options.timeoutMs;
  const releaseTurn = await inProcess.acquire(file, options.timeoutMs);
  const token = randomBytes(8).toString('hex');
  const content = `${process.pid} ${HOST} ${token}\n`;
  try {
    for (let attempt = 0; ; attempt++) {
      heldTokens.add(token); // before creating: our own check must never judge it abandoned
      if (tryCreate(file, content)) return holdLock(file, token, content, options.staleMs, releaseTurn);
      heldTokens.delete(token);
      if (await breakIfAbandoned(file, options.staleMs)) continue;
      if (Date.now() >= deadline) {
        const holder = parseHolder(readOrEmpty(file));
        const who = holder ? `pid ${holder.pid} on ${holder.host}` : 'an unknown holder';
        throw new PipeError('TIMEOUT', `could not lock ${file} within ${options.timeoutMs} ms: held by ${who}`);
      }
      await sleep(backoffMs(attempt));
    }
  } catch (e) {
    heldTokens.delete(token);
    releaseTurn();
    throw e;
  }
}

/**
 * One attempt at the lock `file`, breaking it first if it is abandoned: the lock, or null
 * while someone else holds it. For leases that a standby polls for instead of waiting on.
 */
export async function tryAcquireLock(file: string, staleMs: number): Promise<HeldLock | null> {
  const releaseTurn = inProcess.tryAcquire(file);
  if (releaseTurn === null) return null;
  const token = randomBytes(8).toString('hex');
  const content = `${process.pid} ${HOST} ${token}\n`;
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      heldTokens.add(token);
      if (tryCreate(file, content)) return holdLock(file, token, content, staleMs, releaseTurn);
      heldTokens.delete(token);
      if (!(await breakIfAbandoned(file, staleMs))) break;
    }
  } catch (e) {
    heldTokens.delete(token);
    releaseTurn();
    throw e;
  }
  releaseTurn();
  return null;
}

function holdLock(file: string, token: string, content: string, staleMs: number, releaseTurn: () => void): HeldLock {
  let current = file;
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(current, now, now).catch(() => undefined);
  }, Math.max(50, staleMs / 3));
  heartbeat.unref();
  let released = false;
  return {
    async stillHeld(): Promise<boolean> {
      return !released && readOrEmpty(current) === content;
    },
    async release(movedTo?: string): Promise<void> {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      current = movedTo ?? file;
      try {
        // Someone may have broken and retaken it if we stalled: never delete theirs.
        if (readOrEmpty(current) === content) unlinkQuietly(current);
      } finally {
        heldTokens.delete(token);
        releaseTurn();
      }
    },
  };
}

export async function withLock<T>(file: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(file, options);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
