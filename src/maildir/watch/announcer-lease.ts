import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { parseHolder, tryAcquireLock, type HeldLock, type Holder } from '../lock-file.js';

/** In the tree root; the leading dot keeps it from ever being a user's Maildir. */
export const LEASE_FILE = '.updatepipe-announcer.lock';

export interface LeaseOptions {
  /** How often a standby tries to take the lease, and the holder checks it still has it, ms. */
  pollMs: number;
  /**
   * A lease not refreshed for this long is taken over even if its holder may live (on
   * another host, or hung). On this host a dead holder is seen at once by its pid.
   */
  staleMs: number;
}

export const DEFAULT_LEASE: LeaseOptions = { pollMs: 250, staleMs: 5_000 };

export interface LeaseEvents {
  /** This process now announces for the tree. */
  elected(): void;
  /** It lost the lease (it stalled past `staleMs` and another took over): stop announcing. */
  deposed(): void;
}

/**
 * The election of the one announcer per Maildir tree: whoever holds the lock file
 * `<root>/.updatepipe-announcer.lock` (O_EXCL, `pid host token`, mtime refreshed while
 * held; see lock-file.ts). Standbys poll for it; a holder that dies on this host is
 * replaced within one poll, one on another host within `staleMs`.
 */
export class AnnouncerLease {
  readonly file: string;
  private held: HeldLock | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private busy = false;

  constructor(
    root: string,
    private readonly events: LeaseEvents,
    private readonly o: LeaseOptions = DEFAULT_LEASE,
  ) {
    this.file = path.join(root, LEASE_FILE);
  }

  get isHeld(): boolean {
    return this.held !== null;
  }

  /** Tries once at once, then keeps polling. */
  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.o.pollMs);
  }

  /** Who holds it now, as far as the file says. */
  async holder(): Promise<Holder | undefined> {
    return parseHolder(await readFile(this.file, 'utf8').catch(() => ''));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const held = this.held;
    this.held = null;
    await held?.release();
  }

  private async tick(): Promise<void> {
    if (this.busy || this.closed) return;
    this.busy = true;
    try {
      if (this.held === null) {
        const lock = await tryAcquireLock(this.file, this.o.staleMs).catch(() => null);
        if (lock === null) return;
        if (this.closed) return void (await lock.release());
        this.held = lock;
        this.events.elected();
      } else if (!(await this.held.stillHeld())) {
        this.held = null;
        this.events.deposed();
      }
    } finally {
      this.busy = false;
    }
  }
}
