/** Frames are kept in slabs of this size; a frame larger than one gets a copy of its own. */
const SLAB_BYTES = 256 * 1024;

/**
 * The last frames a hub relayed, by hub position, so a listener that reconnects can be
 * given exactly what it missed. Bounded by count and bytes; whatever falls out is only
 * recoverable by a resync.
 *
 * Frames are copied into slabs the ring owns and reuses, oldest first. Holding views of
 * the socket reads instead kept every 64 KiB read alive for 65,536 frames: long enough to
 * be promoted, so each read was fresh memory to fault in and an old-generation object to
 * collect. Unix 1→1 (CPU time per process, three rounds): the owner's system time
 * 133–157 ms a round with views, 77–88 ms with slabs (45–61 ms when views were held for
 * only 4,096 frames); copying a ~100-byte frame costs less than the faults it saves.
 */
export class ReplayRing {
  /** Frame i is blocks[i][starts[i], ends[i]); slabOf[i] is its slab, or -1 for a copy of its own. */
  private readonly blocks: (Buffer | undefined)[];
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  private readonly slabOf: Int32Array;
  private start = 1; // hub position of the oldest frame kept
  private end = 1; // hub position the next frame will get
  private bytes = 0;
  private readonly slabs: Buffer[] = [];
  /** Frames held in each slab; a slab with none (and not being filled) is free. */
  private readonly live: number[] = [];
  private readonly free: number[] = [];
  private slab = -1; // the slab being filled
  private used = 0; // bytes of it filled
  private readonly maxSlabs: number;

  constructor(
    private readonly maxFrames = 65_536,
    private readonly maxBytes = 16 * 1024 * 1024,
  ) {
    this.blocks = new Array(maxFrames);
    this.starts = new Int32Array(maxFrames);
    this.ends = new Int32Array(maxFrames);
    this.slabOf = new Int32Array(maxFrames);
    this.maxSlabs = Math.ceil(maxBytes / SLAB_BYTES) + 1;
  }

  /** Hub position of the next frame to be added. */
  get next(): number {
    return this.end;
  }

  /** Hub position of the oldest frame still held. */
  get oldest(): number {
    return this.start;
  }

  /** Stores a copy of the frame and returns its hub position. */
  add(frame: Buffer): number {
    return this.keep(frame, 0, frame.length);
  }

  /**
   * Stores (copies) the whole length-prefixed frames at `source[start, end)` and returns
   * them, as a view of `source`, to relay.
   */
  keepRun(source: Buffer, start: number, end: number): Buffer {
    for (let off = start; off < end; ) {
      // The frames that fit in the rest of the slab go in with one copy: a copy per
      // ~100-byte frame cost more in its call than in its bytes.
      let e = off + 4 + source.readUInt32BE(off);
      if (this.slab < 0 || this.used + (e - off) > SLAB_BYTES) {
        this.keep(source, off, e); // a new slab, or a frame of its own
        off = e;
        continue;
      }
      const room = SLAB_BYTES - this.used;
      let cut = off;
      while (e <= end && e - off <= room) {
        cut = e;
        if (e === end) break;
        e = cut + 4 + source.readUInt32BE(cut);
      }
      source.copy(this.slabs[this.slab]!, this.used, off, cut);
      for (let f = off; f < cut; ) {
        const n = 4 + source.readUInt32BE(f);
        this.place(n);
        f += n;
      }
      off = cut;
    }
    return source.subarray(start, end);
  }

  /**
   * Numbers `n` frames without keeping them (a hub nobody can ask for a replay yet): the
   * positions move on, and a resume from before them finds them gone and is told to resync.
   */
  pass(n: number): void {
    while (this.start < this.end) this.dropOldest();
    this.end += n;
    this.start = this.end;
  }

  /** Stores a copy of the frame at `block[start, end)` and returns its hub position. */
  keep(block: Buffer, start: number, end: number): number {
    if (this.end - this.start === this.maxFrames) this.dropOldest();
    const n = end - start;
    if (n > SLAB_BYTES) {
      const i = this.end % this.maxFrames;
      this.blocks[i] = Buffer.from(block.subarray(start, end));
      this.starts[i] = 0;
      this.slabOf[i] = -1;
      this.ends[i] = n;
      return this.added(n);
    }
    if (this.slab < 0 || this.used + n > SLAB_BYTES) this.nextSlab();
    block.copy(this.slabs[this.slab]!, this.used, start, end);
    return this.place(n);
  }

  /** Records the next frame as the `n` bytes already copied at the filling slab's `used`. */
  private place(n: number): number {
    if (this.end - this.start === this.maxFrames) this.dropOldest();
    const i = this.end % this.maxFrames;
    this.blocks[i] = this.slabs[this.slab]!;
    this.starts[i] = this.used;
    this.ends[i] = this.used + n;
    this.slabOf[i] = this.slab;
    this.live[this.slab]!++;
    this.used += n;
    return this.added(n);
  }

  private added(n: number): number {
    this.bytes += n;
    const position = this.end++;
    while (this.bytes > this.maxBytes && this.start < position) this.dropOldest();
    return position;
  }

  /** Frames from `from` on (copies: slabs are reused), or null if some of them are gone. */
  since(from: number): Buffer[] | null {
    if (from < this.start || from > this.end) return null;
    const out: Buffer[] = [];
    for (let k = from; k < this.end; k++) {
      const i = k % this.maxFrames;
      out.push(Buffer.from(this.blocks[i]!.subarray(this.starts[i], this.ends[i])));
    }
    return out;
  }

  /** Starts filling a free slab: one no frame is in, a new one, or the oldest once its frames are dropped. */
  private nextSlab(): void {
    const previous = this.slab;
    this.slab = -1;
    if (previous >= 0 && this.live[previous] === 0) this.free.push(previous);
    if (this.free.length === 0 && this.slabs.length < this.maxSlabs) {
      this.slabs.push(Buffer.allocUnsafe(SLAB_BYTES));
      this.live.push(0);
      this.free.push(this.slabs.length - 1);
    }
    while (this.free.length === 0 && this.start < this.end) this.dropOldest();
    this.slab = this.free.pop()!;
    this.used = 0;
  }

  private dropOldest(): void {
    const i = this.start % this.maxFrames;
    this.bytes -= this.ends[i]! - this.starts[i]!;
    const k = this.slabOf[i]!;
    if (k >= 0 && --this.live[k]! === 0 && k !== this.slab) this.free.push(k);
    this.blocks[i] = undefined;
    this.start++;
  }
}

/** How a hub answers a HELLO: where the client's stream starts, and what to replay first. */
export interface ResumePlan {
  first: number;
  resync: boolean;
  replay: Buffer[];
}

/**
 * A listener coming back presents the epoch and last position it saw. Same epoch and still
 * held: replay what it missed. Another epoch (the hub restarted or the socket owner
 * changed) or fallen out of the ring: it must resync. Newcomers start at the live end.
 */
export function planResume(ring: ReplayRing, epoch: string, hello: { listen: boolean; epoch?: string; last?: number }): ResumePlan {
  if (!hello.listen || hello.epoch === undefined || hello.last === undefined) return { first: ring.next, resync: false, replay: [] };
  const replay = hello.epoch === epoch ? ring.since(hello.last + 1) : null;
  return replay ? { first: hello.last + 1, resync: false, replay } : { first: ring.next, resync: true, replay: [] };
}
