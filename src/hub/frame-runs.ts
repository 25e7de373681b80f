/**
 * Whole length-prefixed frames (`u32 length | u8 kind | body`), in order, held as few
 * views as the memory allows: a frame that begins where the previous one ended, in the
 * same memory, lengthens that view instead of adding one. The writer puts a pusher's
 * frames one after another in its blocks, so a burst of hundreds is one or two views.
 *
 * Why: a pusher keeps every frame until the hub acknowledges it, and holding one view per
 * frame kept hundreds of thousands of small objects alive through each scavenge (the ws
 * pusher's garbage collector, 101 ms of a profiled 200,000-update round against 35 ms for
 * the raw baseline); packing a message copied frame by frame (ws pusher: `Buffer.copy`
 * and its checks, ~58 ms of the same round).
 */
export class FrameRuns {
  private runs: Buffer[] = [];
  /** The open run: it starts with this view and ends at byte offset `openEnd` of `openMemory`. */
  private open: Buffer | null = null;
  private openMemory: ArrayBufferLike | null = null;
  private openEnd = 0;
  private frames = 0;
  private size = 0;

  /** Frames held, if each block added was one frame (a pusher's batch); else blocks. */
  get count(): number {
    return this.frames;
  }

  get bytes(): number {
    return this.size;
  }

  /** Appends `block`: one whole frame, or several back to back. */
  add(block: Buffer): void {
    // `.buffer` is a call into V8's runtime, not a field read: once per frame, not twice.
    const memory = block.buffer;
    if (block.byteOffset === this.openEnd && memory === this.openMemory) this.openEnd += block.length;
    else {
      this.close();
      this.open = block;
      this.openMemory = memory;
      this.openEnd = block.byteOffset + block.length;
    }
    this.frames++;
    this.size += block.length;
  }

  /** Removes and returns everything, as views of whole frames. */
  take(): Buffer[] {
    this.close();
    const runs = this.runs;
    this.runs = [];
    this.frames = 0;
    this.size = 0;
    return runs;
  }

  /** Calls `fn` with each frame, in order, from the `skip`-th (0-based) on; keeps them. */
  forEach(skip: number, fn: (frame: Buffer) => void): void {
    this.close();
    let i = 0;
    for (const run of this.runs) {
      for (let off = 0; off < run.length; i++) {
        const end = off + 4 + run.readUInt32BE(off);
        if (i >= skip) fn(run.subarray(off, end));
        off = end;
      }
    }
  }

  private close(): void {
    const open = this.open;
    if (open === null) return;
    const length = this.openEnd - open.byteOffset;
    this.runs.push(length === open.length ? open : Buffer.from(open.buffer, open.byteOffset, length));
    this.open = null;
    this.openMemory = null;
  }
}
