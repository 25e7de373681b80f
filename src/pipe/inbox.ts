import type { Envelope, Origin } from '../envelope/envelope.js';
import { resyncAll, type ResyncUpdate, type Update } from '../update/update.js';
import { Deduper } from './dedup.js';
import type { Meta, PipeStats, ResyncReason, UpdateHandler } from './update-pipe.js';

export interface InboxOptions {
  maxQueued: number;
  /**
   * How long a hole in an origin's seqs may wait to be filled by a late arrival before it
   * counts as lost (resync). 0 for transports that never reorder: a hole is a loss at once.
   */
  gapGraceMs?: number;
  /**
   * false when the listener sees only part of each origin's stream (interest-based
   * subscriptions): holes are expected then, and loss is detected by the transport instead.
   */
  detectGaps?: boolean;
  originTtlMs: number;
  maxOrigins: number;
  onHandlerError: (err: unknown) => void;
  onResync: (reason: ResyncReason) => void;
}

interface Item {
  u: Update;
  meta: Meta;
  /** Called once the handler is done with it (or it was dropped): a transport ack. */
  done?: (() => void) | undefined;
}

/**
 * The receiving half every backend shares: drops echoes (C2) and copies (C3), turns gaps
 * into resyncs (C4), and calls the handler one update at a time in arrival order, waiting
 * for async handlers. The queue for a slow handler is bounded: past the bound it is
 * replaced by a single resync.
 */
export class Inbox {
  readonly dedup: Deduper;
  private handler: UpdateHandler | null = null;
  private readonly queue: Item[] = [];
  private head = 0;
  private busy = false;
  private idleWaiters: (() => void)[] = [];
  readonly counters = { delivered: 0, duplicates: 0, gaps: 0, resyncs: 0, echoes: 0, late: 0 };
  /** Holes waiting for their grace period: origin → seqs. */
  private holes: { origin: Origin; from: number; to: number; at: number }[] = [];
  private holeTimer: NodeJS.Timeout | null = null;
  /**
   * Updates accepted with a transport ack and not yet through the handler, by origin and
   * seq: a copy of one (a redelivery) is acknowledged only when the original is, or a crash
   * in between would leave neither to be delivered again.
   */
  private readonly unacked = new Map<string, (() => void)[]>();

  constructor(
    private readonly self: Origin,
    private readonly opts: InboxOptions,
  ) {
    this.dedup = new Deduper({ ttlMs: opts.originTtlMs, maxOrigins: opts.maxOrigins, ...(opts.detectGaps === false ? { maxMissing: 0 } : {}) });
  }

  setHandler(h: UpdateHandler): void {
    this.handler = h;
  }

  get listening(): boolean {
    return this.handler !== null;
  }

  /**
   * `done` (optional) is called once the handler has finished with the update, its promise
   * settled, or the update was dropped (echo, copy, overflow): acknowledging then, not on
   * arrival, means a crash never takes an acknowledged but unhandled update with it.
   */
  accept(env: Envelope, done?: () => void): void {
    if (env.origin === this.self) {
      this.counters.echoes++;
      done?.();
      return;
    }
    const verdict = this.dedup.check(env.origin, env.seq);
    if (verdict === 'duplicate') {
      this.counters.duplicates++;
      if (done) {
        const waiting = this.unacked.get(`${env.origin}:${env.seq}`);
        if (waiting) waiting.push(done);
        else done();
      }
      return;
    }
    if (verdict === 'late') this.counters.late++;
    if (verdict === 'gap' && this.opts.detectGaps !== false) {
      const grace = this.opts.gapGraceMs ?? 0;
      if (grace <= 0) {
        this.counters.gaps++;
        // The missing updates' mailboxes are unknown, so the whole pipe is the scope.
        this.resync(resyncAll(), 'gap');
      } else {
        this.holes.push({ origin: env.origin, from: Math.max(this.dedup.gapAfter + 1, env.seq - 10_000), to: env.seq - 1, at: Date.now() });
        this.holeTimer ??= setTimeout(() => this.checkHoles(), grace).unref();
      }
    }
    const meta: Meta = { origin: env.origin, seq: env.seq, ts: env.ts };
    if (verdict === 'late') meta.late = true;
    this.enqueue(env.update, meta, done && this.ackWithCopies(`${env.origin}:${env.seq}`, done));
  }

  private ackWithCopies(key: string, done: () => void): () => void {
    const copies: (() => void)[] = [];
    this.unacked.set(key, copies);
    return () => {
      this.unacked.delete(key);
      done();
      for (const ack of copies) ack();
    };
  }

  /** Holes still open after their grace period are losses: one resync covers them all. */
  private checkHoles(): void {
    this.holeTimer = null;
    const grace = this.opts.gapGraceMs ?? 0;
    const cutoff = Date.now() - grace;
    const due = this.holes.filter((h) => h.at <= cutoff);
    this.holes = this.holes.filter((h) => h.at > cutoff);
    if (this.holes.length > 0) this.holeTimer = setTimeout(() => this.checkHoles(), this.holes[0]!.at + grace - Date.now()).unref();
    const lost = due.some((h) => {
      for (let s = h.from; s <= h.to; s++) if (this.dedup.isMissing(h.origin, s)) return true;
      return false;
    });
    if (lost) {
      this.counters.gaps++;
      this.resync(resyncAll(), 'gap');
    }
  }

  /** Stops the hole timer (on close). */
  dispose(): void {
    if (this.holeTimer) clearTimeout(this.holeTimer);
    this.holeTimer = null;
  }

  resync(u: ResyncUpdate, reason: ResyncReason): void {
    this.counters.resyncs++;
    this.opts.onResync(reason);
    this.enqueue(u, { origin: this.self, seq: 0, ts: Date.now(), reason });
  }

  /** Resolves when everything accepted so far has been handled. */
  idle(): Promise<void> {
    if (!this.busy && this.head === this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  statsInto(s: PipeStats): PipeStats {
    s.delivered = this.counters.delivered;
    s.duplicates = this.counters.duplicates;
    s.gaps = this.counters.gaps;
    s.resyncs = this.counters.resyncs;
    return s;
  }

  private enqueue(u: Update, meta: Meta, done?: () => void): void {
    if (this.handler === null) {
      done?.();
      return;
    }
    if (!this.busy && this.head === this.queue.length) return this.deliverNow(u, meta, done);
    if (this.queue.length - this.head >= this.opts.maxQueued) {
      // The resync that replaces them covers them: they may be acknowledged.
      for (let i = this.head; i < this.queue.length; i++) this.queue[i]!.done?.();
      this.queue.length = 0;
      this.head = 0;
      this.counters.resyncs++;
      this.opts.onResync('overflow');
      this.queue.push({ u: resyncAll(), meta: { origin: this.self, seq: 0, ts: Date.now(), reason: 'overflow' } });
    }
    this.queue.push({ u, meta, done });
    if (!this.busy) this.drain();
  }

  /**
   * Nothing queued and no handler running: straight to the handler, without a queue entry
   * (the common case of a handler that keeps up; what it enqueues meanwhile is drained after).
   */
  private deliverNow(u: Update, meta: Meta, done?: () => void): void {
    this.busy = true;
    // Then whatever the handler enqueued meanwhile, or straight to settled().
    if (!this.handle(u, meta, done)) this.drain();
  }

  private drain(): void {
    this.busy = true;
    while (this.head < this.queue.length) {
      const item = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as Item; // let it be collected
      if (this.handle(item.u, item.meta, item.done)) return; // still busy until the promise settles
    }
    // Setting an array's length is a call into the runtime even when nothing changes.
    if (this.head > 0) {
      this.queue.length = 0;
      this.head = 0;
    }
    this.settled();
  }

  /**
   * Runs the handler on one update; `done` once it is through (or threw). True if it
   * returned a promise: draining resumes when that settles.
   */
  private handle(u: Update, meta: Meta, done: (() => void) | undefined): boolean {
    this.counters.delivered++;
    let r: void | Promise<void>;
    try {
      r = this.handler!(u, meta);
    } catch (err) {
      this.opts.onHandlerError(err);
      done?.();
      return false;
    }
    if (r && typeof (r as Promise<void>).then === 'function') {
      (r as Promise<void>).then(
        () => {
          done?.();
          this.drain();
        },
        (err: unknown) => {
          this.opts.onHandlerError(err);
          done?.();
          this.drain();
        },
      );
      return true;
    }
    done?.();
    return false;
  }

  /** Nothing queued and nothing running: whoever waits on idle() may go on. */
  private settled(): void {
    this.busy = false;
    if (this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
