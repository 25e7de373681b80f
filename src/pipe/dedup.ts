import type { Origin, Seq } from '../envelope/envelope.js';

/**
 * What became of one (origin, seq):
 * - `new`: next in line, deliver it;
 * - `gap`: new, but some earlier seqs of this origin have not arrived (yet);
 * - `late`: one of those missing seqs, arriving out of order: deliver it (once);
 * - `duplicate`: seen before, drop it.
 */
export type Verdict = 'new' | 'gap' | 'late' | 'duplicate';

interface OriginState {
  high: Seq;
  lastSeen: number;
  /** Seqs below `high` not seen yet (bounded): a late copy of one of them is still news. */
  missing: Set<Seq> | null;
}

export interface DedupOptions {
  /** Forget an origin idle this long. Must exceed every replay horizon of the backends. */
  ttlMs: number;
  maxOrigins: number;
  /** Most missing seqs remembered per origin; older holes count as lost. 0: remember none. */
  maxMissing?: number;
  now?: () => number;
}

/**
 * Per-origin high-water marks plus the holes below them (C3/C4). Most backends deliver an
 * origin's stream in order, so the common case is one number per origin. Reordering (a
 * JetStream redelivery after failover, two relay paths) leaves holes; a seq that fills a
 * hole is delivered once, anything else at or below the mark is a copy.
 *
 * Memory is bounded: origins idle past the TTL are forgotten, the oldest go first at
 * `maxOrigins`, and each origin remembers at most `maxMissing` holes. An origin seen for
 * the first time may start anywhere (a listener that starts late is not owed history).
 */
export class Deduper {
  private readonly origins = new Map<Origin, OriginState>();
  private readonly now: () => number;
  private readonly maxMissing: number;
  private checks = 0;
  private lastGapAfter: Seq = 0;

  constructor(private readonly opts: DedupOptions) {
    this.now = opts.now ?? Date.now;
    this.maxMissing = opts.maxMissing ?? 10_000;
  }

  get size(): number {
    return this.origins.size;
  }

  check(origin: Origin, seq: Seq): Verdict {
    if ((++this.checks & 0x3ff) === 0) this.sweep();
    const st = this.origins.get(origin);
    if (st === undefined) {
      if (this.origins.size >= this.opts.maxOrigins) this.evictOldest();
      this.origins.set(origin, { high: seq, lastSeen: this.now(), missing: null });
      return 'new';
    }
    const t = this.now();
    if (t - st.lastSeen > 1000) {
      // Re-insert so Map order stays roughly least-recently-seen first.
      this.origins.delete(origin);
      this.origins.set(origin, st);
    }
    st.lastSeen = t;
    if (seq <= st.high) {
      if (st.missing?.delete(seq)) {
        if (st.missing.size === 0) st.missing = null;
        return 'late';
      }
      return 'duplicate';
    }
    if (seq === st.high + 1) {
      st.high = seq;
      return 'new';
    }
    this.lastGapAfter = st.high;
    if (this.maxMissing === 0) {
      st.high = seq;
      return 'gap';
    }
    st.missing ??= new Set();
    // Remember the newest holes only; a hole pushed out can no longer be filled.
    for (let s = Math.max(st.high + 1, seq - this.maxMissing); s < seq; s++) st.missing.add(s);
    if (st.missing.size > this.maxMissing) {
      const drop = st.missing.size - this.maxMissing;
      let i = 0;
      for (const s of st.missing) {
        if (i++ >= drop) break;
        st.missing.delete(s);
      }
    }
    st.high = seq;
    return 'gap';
  }

  /** Is `seq` of `origin` still a hole? */
  isMissing(origin: Origin, seq: Seq): boolean {
    return this.origins.get(origin)?.missing?.has(seq) ?? false;
  }

  /** After a `gap` verdict: the origin's highest seq before it (the hole starts above). */
  get gapAfter(): Seq {
    return this.lastGapAfter;
  }

  /** Highest seq seen for an origin (0 if unknown). */
  high(origin: Origin): Seq {
    return this.origins.get(origin)?.high ?? 0;
  }

  sweep(): void {
    const cutoff = this.now() - this.opts.ttlMs;
    for (const [origin, st] of this.origins) {
      if (st.lastSeen >= cutoff) break; // Map order is roughly by lastSeen
      this.origins.delete(origin);
    }
  }

  private evictOldest(): void {
    const first = this.origins.keys().next();
    if (!first.done) this.origins.delete(first.value);
  }
}
