import type net from 'node:net';
import { decodeEnvelopeAt } from '../../src/envelope/codec.js';
import type { Envelope } from '../../src/envelope/envelope.js';
import { FRAME_HEADER, FrameDecoder, type OnFrameAt } from '../../src/envelope/frame.js';
import { PipeError } from '../../src/errors.js';
import { FlowControl } from '../../src/hub/flow-control.js';
import { MAX_BATCH } from '../../src/hub/hub-client-pipe.js';
import { planResume, ReplayRing } from '../../src/hub/replay-ring.js';
import { BatchWriter, RELAY_FLUSH_BYTES } from './batch-writer.js';
import { decodeHello, encodeAck, encodeNotice, encodeWelcome, Kind, type Hello } from '../../src/hub/hub-protocol.js';
import { bindSocket, stillOurs, unlinkIfOurs } from './socket-file.js';
import { randomBytes } from '../../src/random-bytes.js';

export interface OwnerOptions {
  mode: number;
  maxFrameBytes: number;
  /** Bytes queued for one listener before it is cut off (it comes back and is replayed or resynced). */
  maxPeerBuffer: number;
  /**
   * Past a quarter of maxPeerBuffer queued for a listener the owner stops reading from
   * every connection (pushers then wait on their unacknowledged window) until it is down to
   * an eighth. A listener that takes nothing for this long meanwhile is cut off instead,
   * and so is one still over the mark after three times this long (pushers would time out).
   */
  stallMs?: number;
  maxPeers: number;
  helloTimeoutMs: number;
  onUpdate: (env: Envelope) => void;
  onRejected: (reason: string) => void;
  /** The path no longer leads to us (deleted or replaced): the owner has shut itself down. */
  onLost: () => void;
}

class Peer {
  readonly decoder: FrameDecoder;
  readonly out: BatchWriter;
  hello: Hello | null = null;
  /** UPDATE frames taken from this peer, and how many of those it has been told about. */
  taken = 0;
  acked = 0;
  ackScheduled = false;
  /** The UPDATE frames of the current read not yet relayed: buf[runStart, runEnd), runFrames of them. */
  runBuf: Buffer | null = null;
  runStart = 0;
  runEnd = 0;
  runFrames = 0;
  constructor(
    readonly socket: net.Socket,
    maxFrame: number,
  ) {
    this.decoder = new FrameDecoder(maxFrame);
    this.out = new BatchWriter(socket, RELAY_FLUSH_BYTES);
  }
}

function sendAck(peer: Peer): void {
  peer.ackScheduled = false;
  if (peer.taken > peer.acked && !peer.socket.destroyed) {
    peer.acked = peer.taken;
    peer.out.write(encodeAck(peer.taken));
  }
}

/**
 * The listener that bound the socket path. It relays every update it is given to every
 * other listener (never back to its sender), numbers them for replay, acknowledges pushes
 * once taken, and delivers to its own process through `onUpdate`.
 */
export class SocketOwner {
  readonly epoch = randomBytes(6).toString('base64url');
  private readonly ring = new ReplayRing();
  private readonly peers = new Set<Peer>();
  private readonly listeners = new Set<Peer>();
  private watchdog: NodeJS.Timeout | null = null;
  private closing = false;
  private readonly flow: FlowControl<Peer>;
  /** The peer whose read is being handled, with frames not yet relayed. */
  private openRun: Peer | null = null;
  /**
   * Whether a listener has been welcomed. Only a listener can come back and ask for a
   * replay, with the epoch its WELCOME gave it; until one has, the ring numbers frames
   * without copying them. An owner that is the only listener (an IMAP server with CLI
   * pushes) copied every update into the ring for nobody: 5 % of its CPU in a profiled
   * unix 1→1 round. A HELLO that presents this epoch without having listened (a pusher's)
   * and a position before the first kept frame is told to resync, like any fallen out.
   */
  private replayWanted = false;
  /**
   * The updates of the read being handled, validated and relayed but not yet delivered
   * here: the other listeners get a read before this process's own handler runs on it,
   * and decode it while we deliver instead of after.
   */
  private readonly local: Envelope[] = [];
  private localCount = 0;

  private constructor(
    readonly file: string,
    private readonly opts: OwnerOptions,
    private server: net.Server | null = null,
    private ino = 0,
  ) {
    this.flow = new FlowControl<Peer>({
      highWater: opts.maxPeerBuffer / 4,
      stallMs: opts.stallMs ?? 1_000,
      pending: (l) => l.out.pending,
      gone: (l) => l.socket.destroyed || !this.listeners.has(l),
      cut: (l, why) => this.cutOff(l, why),
      pauseAll: () => this.peers.forEach((p) => p.socket.pause()),
      resumeAll: () => this.peers.forEach((p) => !p.socket.destroyed && p.socket.resume()),
    });
  }

  /** Binds `file` if nobody live holds it; null if somebody does. */
  static async bind(file: string, opts: OwnerOptions): Promise<SocketOwner | null> {
    const owner = new SocketOwner(file, opts);
    const bound = await bindSocket(file, opts.mode, (s) => owner.accept(s));
    if (!bound) return null;
    owner.server = bound.server;
    owner.ino = bound.ino;
    owner.watchdog = setInterval(() => void owner.checkPath(), 1_000);
    owner.watchdog.unref();
    return owner;
  }

  get peerCount(): number {
    return this.peers.size;
  }

  /** An update pushed by the owner's own process. */
  publishLocal(frame: Buffer): void {
    // A handler pushing while a read is handled: what came before goes out first.
    if (this.openRun) this.flushRun(this.openRun);
    this.fanOut(frame, null);
  }

  private accept(socket: net.Socket): void {
    if (this.closing || this.peers.size >= this.opts.maxPeers) {
      socket.end(encodeNotice({ code: 'BUSY', message: `too many connections (max ${this.opts.maxPeers})` }));
      return;
    }
    const peer = new Peer(socket, this.opts.maxFrameBytes);
    this.peers.add(peer);
    socket.setNoDelay?.(true);
    // Only a peer that never says HELLO is dropped; the check is moot once it has.
    const helloTimer = setTimeout(() => peer.hello === null && this.reject(peer, 'no HELLO in time'), this.opts.helloTimeoutMs);
    helloTimer.unref();
    const onFrame: OnFrameAt = (kind, buf, start, end) => this.onFrame(peer, kind, buf, start, end);
    socket.on('data', (chunk: Buffer) => {
      let bad: Error | null = null;
      try {
        peer.decoder.pushAt(chunk, onFrame);
      } catch (err) {
        bad = err as Error;
      }
      // The frames before a bad one were taken: relayed, then delivered here, like any.
      try {
        this.flushRun(peer);
        // Out now rather than at the end of the turn, which comes after our own delivery.
        for (const l of this.listeners) l.out.flush();
      } finally {
        this.deliverLocal();
      }
      if (bad !== null) return this.reject(peer, bad.message);
      // A read that completes a pusher's batch (MAX_BATCH frames) is acknowledged at once:
      // a pusher with a burst in flight gets that part back while the rest is still on its
      // way, and keeps sending (acknowledging once a turn, after every read of a whole
      // window, had pusher and owner take turns being idle). Smaller remainders wait for
      // the end of the turn: one ACK write per read cost the owner more than it saved.
      if (peer.taken - peer.acked >= MAX_BATCH) sendAck(peer);
      else if (peer.taken > peer.acked && !peer.ackScheduled) {
        peer.ackScheduled = true;
        setImmediate(sendAck, peer);
      }
    });
    if (this.flow.holding) socket.pause(); // joins the others in waiting
    socket.on('error', () => {});
    socket.on('end', () => {
      if (peer.decoder.buffered > 0) this.opts.onRejected(`connection ended inside a frame (${peer.decoder.buffered} bytes of a truncated frame)`);
    });
    socket.on('close', () => {
      clearTimeout(helloTimer);
      this.peers.delete(peer);
      this.listeners.delete(peer);
      this.flow.forget(peer);
    });
  }

  private onFrame(peer: Peer, kind: number, buf: Buffer, start: number, end: number): void {
    if (peer.socket.destroyed) return;
    if (peer.hello === null) {
      if (kind !== Kind.Hello) throw new PipeError('BAD_FRAME', 'first frame must be HELLO');
      this.welcome(peer, decodeHello(buf.subarray(start + FRAME_HEADER, end)));
      return;
    }
    if (kind !== Kind.Update) throw new PipeError('BAD_FRAME', `unexpected frame kind ${kind}`);
    // Validate before relaying: one bad peer must not reach the others (C5).
    const env = decodeEnvelopeAt(buf, start + FRAME_HEADER, end);
    // Consecutive frames of one read are relayed together, as one block (flushRun).
    if (peer.runBuf !== buf || peer.runEnd !== start) {
      this.flushRun(peer);
      peer.runBuf = buf;
      peer.runStart = start;
      peer.runFrames = 0;
      this.openRun = peer;
    }
    peer.runEnd = end;
    peer.runFrames++;
    this.local[this.localCount++] = env;
    peer.taken++;
  }

  /**
   * Hands the read's updates to this process. The array keeps its length between reads:
   * growing it again each read was a page fault a read.
   */
  private deliverLocal(): void {
    const envs = this.local;
    const n = this.localCount;
    this.localCount = 0;
    for (let i = 0; i < n; i++) {
      const env = envs[i]!;
      envs[i] = undefined as unknown as Envelope; // let it be collected
      try {
        this.opts.onUpdate(env);
      } catch (err) {
        this.localFailed(err);
      }
    }
  }

  /**
   * Our own process threw while taking an update (a status listener that throws): not the
   * peer's fault, and no reason to drop the rest of the read or to crash on a socket event.
   */
  private localFailed(err: unknown): void {
    try {
      this.opts.onRejected(`delivering an update in this process threw: ${err instanceof Error ? err.message : String(err)}`);
    } catch {
      // The listener throws again: there is nobody left to tell.
    }
  }

  /**
   * Relays the frames of `peer`'s current read as one block (a view of the read; the
   * replay ring keeps copies), one write per listener.
   */
  private flushRun(peer: Peer): void {
    const buf = peer.runBuf;
    if (buf === null) return;
    peer.runBuf = null;
    if (this.openRun === peer) this.openRun = null;
    if (this.replayWanted) this.relay(this.ring.keepRun(buf, peer.runStart, peer.runEnd), peer);
    else {
      this.ring.pass(peer.runFrames);
      this.relay(buf.subarray(peer.runStart, peer.runEnd), peer);
    }
  }

  private welcome(peer: Peer, hello: Hello): void {
    peer.hello = hello;
    // Another epoch: the previous owner is gone with whatever it had not flushed.
    const { first, resync, replay } = planResume(this.ring, this.epoch, hello);
    peer.out.write(encodeWelcome({ v: 1, epoch: this.epoch, first, resync }));
    for (const f of replay) peer.out.write(f);
    if (hello.listen) {
      this.listeners.add(peer);
      this.replayWanted = true;
    }
  }

  private fanOut(raw: Buffer, from: Peer | null): void {
    if (this.replayWanted) this.ring.add(raw);
    else this.ring.pass(1);
    this.relay(raw, from);
  }

  /** Queues whole frames for every listener but their sender. */
  private relay(frames: Buffer, from: Peer | null): void {
    for (const l of this.listeners) {
      if (l === from) continue;
      l.out.write(frames);
      const pending = l.out.pending;
      if (pending > this.opts.maxPeerBuffer) this.cutOff(l, `fell ${pending} bytes behind`);
      else this.flow.queued(l);
    }
  }

  private cutOff(l: Peer, why: string): void {
    this.opts.onRejected(`listener ${l.hello?.origin} ${why}; cut off`);
    this.listeners.delete(l);
    this.flow.forget(l);
    l.socket.destroy();
  }

  private reject(peer: Peer, reason: string): void {
    if (peer.socket.destroyed) return;
    this.opts.onRejected(reason);
    this.listeners.delete(peer);
    peer.out.flush();
    peer.socket.end(encodeNotice({ code: 'BAD_FRAME', message: reason }));
    setTimeout(() => peer.socket.destroy(), 100).unref();
  }

  private async checkPath(): Promise<void> {
    if (this.closing || (await stillOurs(this.file, this.ino))) return;
    await this.shutdown(false);
    this.opts.onLost();
  }

  /** Drains every peer's queue, closes the connections and (if still ours) removes the path. */
  async close(): Promise<void> {
    await this.shutdown(true);
  }

  private async shutdown(unlink: boolean): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.flow.stop();
    if (unlink) await unlinkIfOurs(this.file, this.ino);
    const closed = new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    const drained = Promise.all([...this.peers].map((p) => p.out.end()));
    // A peer that stopped reading must not hold our close forever.
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref());
    await Promise.race([drained, timeout]);
    for (const p of this.peers) p.socket.destroy();
    await closed;
  }
}
