import { randomBytes } from 'node:crypto';
import type net from 'node:net';
import { decodeEnvelope } from '../../src/envelope/codec.js';
import type { Envelope } from '../../src/envelope/envelope.js';
import { FrameDecoder } from '../../src/envelope/frame.js';
import { PipeError } from '../../src/errors.js';
import { planResume, ReplayRing } from '../../src/hub/replay-ring.js';
import { BatchWriter } from './batch-writer.js';
import { decodeHello, encodeAck, encodeNotice, encodeWelcome, Kind, type Hello } from '../../src/hub/hub-protocol.js';
import { bindSocket, stillOurs, unlinkIfOurs } from './socket-file.js';

export interface OwnerOptions {
  mode: number;
  maxFrameBytes: number;
  /** Bytes queued for one listener before it is cut off (it comes back and is replayed or resynced). */
  maxPeerBuffer: number;
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
  constructor(
    readonly socket: net.Socket,
    maxFrame: number,
  ) {
    this.decoder = new FrameDecoder(maxFrame);
    this.out = new BatchWriter(socket);
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

  private constructor(
    readonly file: string,
    private readonly opts: OwnerOptions,
    private server: net.Server | null = null,
    private ino = 0,
  ) {}

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
    socket.on('data', (chunk: Buffer) => {
      try {
        peer.decoder.push(chunk, (kind, body, raw) => this.onFrame(peer, kind, body, raw));
      } catch (err) {
        this.reject(peer, (err as Error).message);
        return;
      }
      if (peer.taken > peer.acked && !socket.destroyed) {
        peer.acked = peer.taken;
        peer.out.write(encodeAck(peer.taken));
      }
    });
    socket.on('error', () => {});
    socket.on('end', () => {
      if (peer.decoder.buffered > 0) this.opts.onRejected(`connection ended inside a frame (${peer.decoder.buffered} bytes of a truncated frame)`);
    });
    socket.on('close', () => {
      clearTimeout(helloTimer);
      this.peers.delete(peer);
      this.listeners.delete(peer);
    });
  }

  private onFrame(peer: Peer, kind: number, body: Buffer, raw: Buffer): void {
    if (peer.socket.destroyed) return;
    if (peer.hello === null) {
      if (kind !== Kind.Hello) throw new PipeError('BAD_FRAME', 'first frame must be HELLO');
      this.welcome(peer, decodeHello(body));
      return;
    }
    if (kind !== Kind.Update) throw new PipeError('BAD_FRAME', `unexpected frame kind ${kind}`);
    // Validate before relaying: one bad peer must not reach the others (C5).
    const env = decodeEnvelope(body);
    this.fanOut(raw, peer);
    this.opts.onUpdate(env);
    peer.taken++;
  }

  private welcome(peer: Peer, hello: Hello): void {
    peer.hello = hello;
    // Another epoch: the previous owner is gone with whatever it had not flushed.
    const { first, resync, replay } = planResume(this.ring, this.epoch, hello);
    peer.out.write(encodeWelcome({ v: 1, epoch: this.epoch, first, resync }));
    for (const f of replay) peer.out.write(f);
    if (hello.listen) this.listeners.add(peer);
  }

  private fanOut(raw: Buffer, from: Peer | null): void {
    this.ring.add(raw);
    for (const l of this.listeners) {
      if (l === from) continue;
      l.out.write(raw);
      if (l.out.pending > this.opts.maxPeerBuffer) {
        this.opts.onRejected(`listener ${l.hello?.origin} fell ${l.out.pending} bytes behind; cut off`);
        this.listeners.delete(l);
        l.socket.destroy();
      }
    }
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
