/**
 * Flow control for a relaying hub (the Unix socket owner, the WebSocket hub). A listener
 * with more than `highWater` bytes queued makes the hub stop reading from every
 * connection: pushers then wait on their unacknowledged window (or the kernel's socket
 * buffer), so the slowest live listener sets the pace instead of being cut off. Reading
 * resumes once every such listener is down to half the high-water mark. A listener that
 * takes nothing for `stallMs`, or is still behind after three times that (holding pushers
 * longer would time their pushes out), is handed to `cut`: it comes back to a replay or
 * a resync, as one cut off at the hard limit does.
 */
export interface FlowOptions<L> {
  highWater: number;
  stallMs: number;
  /** Bytes queued for a listener, not yet taken by the kernel. */
  pending: (l: L) => number;
  /** The listener is gone or no longer listening: it holds nobody back. */
  gone: (l: L) => boolean;
  cut: (l: L, why: string) => void;
  pauseAll: () => void;
  resumeAll: () => void;
}

interface Behind {
  since: number;
  lastPending: number;
  progressAt: number;
}

const CHECK_MS = 10;

export class FlowControl<L> {
  private readonly behind = new Map<L, Behind>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly o: FlowOptions<L>) {}

  /** True while the hub holds everyone: a connection accepted now must wait too. */
  get holding(): boolean {
    return this.timer !== null;
  }

  /** After queueing for `l`. */
  queued(l: L): void {
    if (this.behind.has(l)) return;
    const pending = this.o.pending(l);
    if (pending <= this.o.highWater) return;
    const now = Date.now();
    this.behind.set(l, { since: now, lastPending: pending, progressAt: now });
    if (this.timer) return;
    this.o.pauseAll();
    this.timer = setInterval(() => this.check(), CHECK_MS);
    this.timer.unref();
  }

  /** `l` was cut off or closed. */
  forget(l: L): void {
    this.behind.delete(l);
  }

  /** The hub is closing: nobody is held any more. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.behind.clear();
    this.o.resumeAll();
  }

  private check(): void {
    const now = Date.now();
    const { stallMs } = this.o;
    for (const [l, b] of this.behind) {
      const pending = this.o.pending(l);
      if (this.o.gone(l) || pending <= this.o.highWater / 2) this.behind.delete(l);
      else if (now - b.since > 3 * stallMs) this.cutOff(l, `stayed ${pending} bytes behind for ${now - b.since} ms`);
      else if (pending < b.lastPending) {
        b.lastPending = pending;
        b.progressAt = now;
      } else if (now - b.progressAt > stallMs) this.cutOff(l, `took nothing for ${now - b.progressAt} ms with ${pending} bytes queued`);
    }
    if (this.behind.size > 0) return;
    clearInterval(this.timer!);
    this.timer = null;
    this.o.resumeAll();
  }

  private cutOff(l: L, why: string): void {
    this.behind.delete(l);
    this.o.cut(l, why);
  }
}
