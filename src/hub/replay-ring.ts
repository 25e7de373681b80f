/**
 * The last frames a hub relayed, by hub position, so a listener that reconnects can be
 * given exactly what it missed. Bounded by count and bytes; whatever falls out is only
 * recoverable by a resync.
 */
export class ReplayRing {
  /** Frame i is blocks[i][starts[i], ends[i]): a run of frames shares one block, no view each. */
  private readonly blocks: (Buffer | undefined)[];
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  private start = 1; // hub position of the oldest frame kept
  private end = 1; // hub position the next frame will get
  private bytes = 0;

  constructor(
    private readonly maxFrames = 65_536,
    private readonly maxBytes = 16 * 1024 * 1024,
  ) {
    this.blocks = new Array(maxFrames);
    this.starts = new Int32Array(maxFrames);
    this.ends = new Int32Array(maxFrames);
  }

  /** Hub position of the next frame to be added. */
  get next(): number {
    return this.end;
  }

  /** Hub position of the oldest frame still held. */
  get oldest(): number {
    return this.start;
  }

  /** Stores a copy (the source chunk may be large) and returns the frame's hub position. */
  add(frame: Buffer): number {
    return this.keep(Buffer.from(frame), 0, frame.length);
  }

  /**
   * Stores the whole length-prefixed frames at `source[start, end)` and returns them as one
   * block to relay. `source` must be a buffer nothing writes to again (a socket read, a
   * WebSocket message): the ring keeps a view of it, or a copy when the run is a short
   * part of it, so what is held stays near what is counted.
   */
  keepRun(source: Buffer, start: number, end: number): Buffer {
    const view = source.subarray(start, end);
    const block = view.length * 2 >= source.length ? view : Buffer.from(view);
    for (let off = 0; off < block.length; ) {
      const e = off + 4 + block.readUInt32BE(off);
      this.keep(block, off, e);
      off = e;
    }
    return block;
  }

  /** Stores the frame at `block[start, end)` without copying (see keepRun). */
  keep(block: Buffer, start: number, end: number): number {
    if (this.end - this.start === this.maxFrames) this.dropOldest();
    const i = this.end % this.maxFrames;
    this.blocks[i] = block;
    this.starts[i] = start;
    this.ends[i] = end;
    this.bytes += end - start;
    while (this.bytes > this.maxBytes && this.start < this.end) this.dropOldest();
    return this.end++;
  }

  /** Frames from `from` on, or null if some of them are gone. */
  since(from: number): Buffer[] | null {
    if (from < this.start || from > this.end) return null;
    const out: Buffer[] = [];
    for (let k = from; k < this.end; k++) {
      const i = k % this.maxFrames;
      out.push(this.blocks[i]!.subarray(this.starts[i], this.ends[i]));
    }
    return out;
  }

  private dropOldest(): void {
    const i = this.start % this.maxFrames;
    this.bytes -= this.ends[i]! - this.starts[i]!;
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
