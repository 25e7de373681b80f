import { ENVELOPE_VERSION } from '../../src/envelope/envelope.js';
import { PipeError } from '../../src/errors.js';
import { Deduper } from '../../src/pipe/dedup.js';
import { isForwardingPipe, type ForwardingPipe, type Meta, type UpdatePipe } from '../../src/pipe/update-pipe.js';
import { resyncAll, type Update } from '../../src/update/update.js';

export interface RelayOptions {
  /** Only a → b. */
  oneWay?: boolean;
  /** Forwards not yet accepted downstream before the relay stops taking more (backpressure). */
  maxInFlight?: number;
  log?: (line: string) => void;
  /** Called for every update the relay receives (metrics). */
  onReceive?: (meta: Meta) => void;
}

export interface RelayStats {
  forwarded: number;
  copiesSkipped: number;
  resyncsSent: number;
  failed: number;
}

/**
 * Bridges two pipes, keeping each update's origin and seq, so receivers anywhere dedup
 * end to end. Loops die out: a pipe never hears its own pushes, every receiver drops
 * copies, and the relay itself forwards an (origin, seq) at most once whichever side it
 * came from (two relays on one pair, or a ring of pipes, stay exactly-once). What the
 * relay could not deliver, or may have missed while it was not running, becomes a resync
 * downstream, never silence.
 */
export class Relay {
  private readonly seen = new Deduper({ ttlMs: 10 * 60_000, maxOrigins: 100_000, maxMissing: 0 });
  readonly stats: RelayStats = { forwarded: 0, copiesSkipped: 0, resyncsSent: 0, failed: 0 };
  private readonly maxInFlight: number;
  private readonly log: (line: string) => void;
  private readonly owed = new Set<ForwardingPipe>();
  private retryTimer: NodeJS.Timeout | null = null;
  private inFlight = 0;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly a: UpdatePipe,
    private readonly b: UpdatePipe,
    private readonly o: RelayOptions = {},
  ) {
    for (const p of [a, b]) if (!isForwardingPipe(p)) throw new PipeError('USAGE', 'this pipe cannot forward updates unchanged');
    this.maxInFlight = o.maxInFlight ?? 10_000;
    this.log = o.log ?? (() => {});
  }

  async start(): Promise<void> {
    const a = this.a as ForwardingPipe;
    const b = this.b as ForwardingPipe;
    // Both ways, each side is listened on (a Unix side may be bound by the relay itself).
    // One way, the far side must already have someone to receive.
    if (this.o.oneWay) await b.initPush();
    await a.listen((u, meta) => this.pass(u, meta, b));
    if (!this.o.oneWay) await b.listen((u, meta) => this.pass(u, meta, a));
    // While no relay ran, updates on a side that does not resume went nowhere, so the
    // other side must re-read. Even a resuming side (a JetStream durable) does not hand
    // back what a relay that died had taken but not yet forwarded: it counts as handled
    // once passed on, and forwards are pipelined. So every side this relay feeds re-reads.
    this.sendResync(b);
    if (!this.o.oneWay) this.sendResync(a);
  }

  private pass(u: Update, meta: Meta, to: ForwardingPipe): void | Promise<void> {
    this.o.onReceive?.(meta);
    if (meta.reason !== undefined) {
      // The relay's own side lost something: everyone downstream must re-read too.
      this.sendResync(to);
      return;
    }
    if (this.seen.check(meta.origin, meta.seq) === 'duplicate') {
      this.stats.copiesSkipped++;
      return;
    }
    this.inFlight++;
    to.forward({ v: ENVELOPE_VERSION, origin: meta.origin, seq: meta.seq, ts: meta.ts, update: u }).then(
      () => {
        this.stats.forwarded++;
        this.settle();
      },
      (err: unknown) => {
        this.stats.failed++;
        this.log(`forward failed: ${(err as Error).message}; owing a resync downstream`);
        this.owe(to);
        this.settle();
      },
    );
    if (this.inFlight >= this.maxInFlight) return new Promise((r) => this.waiters.push(r));
  }

  private settle(): void {
    this.inFlight--;
    if (this.inFlight < this.maxInFlight / 2 && this.waiters.length > 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    }
  }

  private sendResync(to: ForwardingPipe): void {
    to.push(resyncAll()).then(
      () => {
        this.stats.resyncsSent++;
        this.owed.delete(to);
      },
      () => this.owe(to),
    );
  }

  /** Keeps trying to tell `to` to resync until it accepts. */
  private owe(to: ForwardingPipe): void {
    this.owed.add(to);
    this.retryTimer ??= setInterval(() => {
      if (this.owed.size === 0) {
        clearInterval(this.retryTimer!);
        this.retryTimer = null;
        return;
      }
      for (const p of this.owed) this.sendResync(p);
    }, 1_000);
  }

  async close(): Promise<void> {
    if (this.retryTimer) clearInterval(this.retryTimer);
    for (const w of this.waiters) w();
    await Promise.allSettled([this.a.close(), this.b.close()]);
  }
}
