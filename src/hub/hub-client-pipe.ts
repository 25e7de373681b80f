import type { Envelope } from '../envelope/envelope.js';
import { PipeError } from '../errors.js';
import { resyncAll, type Update } from '../update/update.js';
import { BasePipe } from '../pipe/base-pipe.js';
import { Fifo } from './fifo.js';
import { FrameRuns } from './frame-runs.js';
import { Kind, PROTOCOL_VERSION, type Hello, type HubSeq, type Welcome } from './hub-protocol.js';
import type { PipeOptions, UpdateHandler, UpdatePipe } from '../pipe/update-pipe.js';

/** One connection to a hub, as the client pipe sees it (Unix stream or WebSocket). */
export interface HubLink {
  attach(events: LinkEvents): void;
  /** A length-prefixed hub-protocol frame. */
  send(frame: Buffer): void;
  end(): Promise<void>;
  destroy(): void;
}

export interface LinkEvents {
  onUpdate: (env: Envelope, hub: HubSeq) => void;
  onAck: (taken: number) => void;
  /** The connection is gone; `reason` says why when the hub told us or a frame was bad. */
  onClose: (reason: string | null) => void;
  onRejected: (reason: string) => void;
}

/** A hub run by this very process (the Unix socket owner). */
export interface LocalHub {
  publishLocal(frame: Buffer): void;
  close(): Promise<void>;
}

/**
 * The pushes of one event-loop turn: they go out together and share one promise, which
 * settles once the hub has taken the last of them (or they fail). One promise, one
 * timestamp and one queue entry per burst instead of per update: pushing thousands at a
 * time (Promise.all over a chunk, a rolling window) costs nearly nothing per update here.
 */
class Batch {
  readonly frames = new FrameRuns();
  /** Frames at the front the hub has already taken (not resent after a reconnect). */
  taken = 0;
  readonly at = Date.now();
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (err: Error) => void;
  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

/**
 * A bound on one batch: the hub acknowledges per read, so a burst of thousands settles
 * piece by piece and a caller's rolling window keeps moving (one batch per 2048-push
 * window emptied the whole window before the next push: a round trip of idle per window).
 * Hubs acknowledge at once a read or message that brings this many frames.
 */
export const MAX_BATCH = 256;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A pipe that talks to a relaying hub: the Unix socket owner or a WebSocket hub. Pushes
 * stay queued until the hub acknowledges them and are resent, in order, after a
 * reconnect (receivers drop the copies). A listener that comes back presents the last hub
 * position it saw: the hub replays what it missed, or says it cannot, and then the pipe
 * emits a resync (C4).
 */
export abstract class HubClientPipe extends BasePipe implements UpdatePipe {
  protected localHub: LocalHub | null = null;
  protected link: HubLink | null = null;
  /** Whether `link` said HELLO as a listener. */
  private linkListens = false;
  protected resume: { epoch: string; last: HubSeq } | null = null;
  private unacked = new Fifo<Batch>();
  private openBatch: Batch | null = null;
  private ackedOnLink = 0;
  private establishing: Promise<void> | null = null;
  private reconnecting = false;
  protected listening = false;
  private closing = false;
  protected closed = false;
  private timeoutTimer: NodeJS.Timeout | null = null;

  constructor(options: PipeOptions = {}) {
    super(options);
  }

  /** Opens a link and completes the HELLO/WELCOME exchange. */
  protected abstract openLink(hello: Hello): Promise<{ link: HubLink; welcome: Welcome }>;

  /**
   * No hub answered `err`. Return a hub this process now runs (a Unix listener binding the
   * socket), null to try again after a pause, or throw to give up.
   */
  protected abstract noHub(err: PipeError, attempt: number, startedAt: number): Promise<LocalHub | null>;

  /** Where this pipe connects, for messages (no secrets). */
  protected abstract where(): string;

  protected retryDelay(attempt: number): number {
    return Math.min(200, 5 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random());
  }

  protected reconnectDelay(attempt: number): number {
    return Math.min(1_000, 10 * 2 ** Math.min(attempt, 7)) * (0.5 + Math.random());
  }

  /** Work before the first listen connects (e.g. the socket directory). */
  protected async prepareListen(): Promise<void> {}

  get isOwner(): boolean {
    return this.localHub !== null;
  }

  async listen(handler: UpdateHandler): Promise<void> {
    if (this.closing) throw new PipeError('CLOSED', 'pipe is closed');
    if (this.listening) throw new PipeError('USAGE', 'listen() was already called on this pipe');
    this.setHandler(handler);
    this.listening = true;
    await this.prepareListen();
    // An attempt already under way (a push's, say) may have said HELLO as a pusher.
    await this.establishing?.catch(() => {});
    if (this.localHub) return;
    if (this.link && !this.linkListens) {
      // Connected as a pusher: reconnect as a listener (unacked pushes are resent).
      const old = this.link;
      this.link = null;
      old.destroy();
    }
    if (!this.link) await this.establish();
  }

  async initPush(): Promise<void> {
    if (this.closing) throw new PipeError('CLOSED', 'pipe is closed');
    if (this.localHub || this.link) return;
    try {
      await this.establish();
    } catch (err) {
      // Pushes made meanwhile waited on this very attempt: they fail with it, not later.
      this.failPending(err as Error);
      throw err;
    }
  }

  push(u: Update): Promise<void> {
    if (this.closing) return Promise.reject(new PipeError('CLOSED', 'pipe is closed'));
    let frame: Buffer;
    try {
      frame = this.frame(u, Kind.Update);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.send(frame);
  }

  /** Relays somebody else's update unchanged (see ForwardingPipe). */
  forward(env: Envelope): Promise<void> {
    if (this.closing) return Promise.reject(new PipeError('CLOSED', 'pipe is closed'));
    let frame: Buffer;
    try {
      frame = this.forwardEnvelope(env, Kind.Update).bytes;
    } catch (err) {
      return Promise.reject(err);
    }
    return this.send(frame);
  }

  /** One whole UPDATE frame. */
  private send(frame: Buffer): Promise<void> {
    if (this.localHub) {
      this.localHub.publishLocal(frame);
      return Promise.resolve();
    }
    let batch = this.openBatch;
    if (batch === null || batch.frames.count >= MAX_BATCH) {
      const b = (batch = this.openBatch = new Batch());
      this.unacked.push(b);
      this.armTimeout();
      process.nextTick(() => this.endBatch(b));
    }
    batch.frames.add(frame);
    if (this.link) this.link.send(frame);
    else if (!this.establishing && !this.reconnecting) {
      this.establish().catch((err: unknown) => this.failPending(err as Error));
    }
    return batch.promise;
  }

  /** The turn is over: later pushes start a new batch. */
  private endBatch(batch: Batch): void {
    if (this.openBatch === batch) this.openBatch = null;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    // C6: everything push() resolved, or may still resolve, goes out before we let go.
    while (this.unacked.length > 0) await this.unacked.last()!.promise.catch(() => {});
    this.closed = true;
    if (this.timeoutTimer) clearInterval(this.timeoutTimer);
    this.inbox.dispose();
    // A connect or takeover in flight must finish (or fail) before we let go.
    await this.establishing?.catch(() => {});
    const hub = this.localHub;
    const link = this.link;
    this.localHub = null;
    this.link = null;
    if (hub) await hub.close();
    if (link) await link.end();
  }

  /** Connects to the hub, or becomes it. One attempt at a time. */
  protected establish(): Promise<void> {
    if (!this.establishing) {
      this.establishing = this.establishOnce().finally(() => {
        this.establishing = null;
      });
    }
    return this.establishing;
  }

  private async establishOnce(): Promise<void> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new PipeError('CLOSED', 'pipe is closed');
      try {
        const hello: Hello = { v: PROTOCOL_VERSION, origin: this.origin, listen: this.listening };
        if (this.listening && this.resume) Object.assign(hello, this.resume);
        const { link, welcome } = await this.openLink(hello);
        if (this.closed) {
          link.destroy();
          throw new PipeError('CLOSED', 'pipe is closed');
        }
        this.adopt(link, welcome, hello.listen);
        return;
      } catch (err) {
        if (!(err instanceof PipeError) || err.code === 'CLOSED') throw err;
        const hub = await this.noHub(err, attempt, started);
        if (hub) {
          if (this.closed) {
            await hub.close();
            throw new PipeError('CLOSED', 'pipe is closed');
          }
          this.becomeHub(hub);
          return;
        }
      }
      await sleep(this.retryDelay(attempt));
    }
  }

  private adopt(link: HubLink, welcome: Welcome, listens: boolean): void {
    // Every caller found no link (the reconnect loop, listen() and initPush() check), so
    // this is the one link; the handlers below ignore a link replaced since.
    this.link = link;
    this.linkListens = listens;
    this.ackedOnLink = 0;
    if (this.listening) {
      if (welcome.resync) this.inbox.resync(resyncAll(), 'reconnect');
      this.resume = { epoch: welcome.epoch, last: welcome.first - 1 };
    }
    link.attach({
      onUpdate: (env, hub) => {
        if (link !== this.link) return;
        if (this.resume) this.resume.last = hub;
        this.inbox.accept(env);
      },
      onAck: (taken) => {
        if (link === this.link) this.onAck(taken);
      },
      onClose: (reason) => this.onLinkClosed(link, reason),
      onRejected: (reason) => this.status({ type: 'rejected', detail: reason }),
    });
    for (const b of this.unacked) b.frames.forEach(b.taken, (f) => link.send(f));
    this.status({ type: 'connected', detail: this.where() });
  }

  private becomeHub(hub: LocalHub): void {
    this.localHub = hub;
    // Whatever the previous hub had not yet flushed to us is unknowable: resync.
    if (this.resume) this.inbox.resync(resyncAll(), 'reconnect');
    this.resume = null;
    this.openBatch = null;
    for (const b of this.unacked.drain()) {
      b.frames.forEach(b.taken, (f) => hub.publishLocal(f));
      b.resolve();
    }
    this.status({ type: 'owner', detail: `now relaying for ${this.where()}` });
  }

  /** The local hub stopped (its socket path was taken or removed): rejoin as a client. */
  protected localHubLost(): void {
    this.localHub = null;
    this.status({ type: 'disconnected', detail: `${this.where()} was removed or replaced; rejoining` });
    this.resume = { epoch: '', last: 0 }; // forces a resync on rejoin
    if (!this.closed) void this.reconnect();
  }

  /** Delivery from a hub this process runs. */
  protected deliverLocal(env: Envelope): void {
    this.inbox.accept(env);
  }

  private onAck(taken: number): void {
    let n = taken - this.ackedOnLink;
    if (n <= 0) return;
    this.ackedOnLink = taken;
    while (n > 0) {
      const b = this.unacked.peek();
      if (!b) return;
      const left = b.frames.count - b.taken;
      if (n < left) {
        b.taken += n;
        return;
      }
      n -= left;
      b.taken = b.frames.count;
      this.unacked.shift();
      // Pushes later in this turn (if any) start a batch of their own.
      this.endBatch(b);
      b.resolve();
    }
  }

  private onLinkClosed(link: HubLink, reason: string | null): void {
    if (link !== this.link) return;
    this.link = null;
    this.status({ type: 'disconnected', detail: reason ?? `${this.where()} went away` });
    if (this.closed) return;
    if (this.listening || this.unacked.length > 0) void this.reconnect();
  }

  /** Retries forever as a listener; as a pusher, until the oldest push times out. */
  private async reconnect(): Promise<void> {
    if (this.reconnecting) return;
    this.reconnecting = true;
    try {
      for (let attempt = 0; !this.closed; attempt++) {
        // Somebody else's attempt (initPush, listen, a push) may have connected meanwhile.
        if (this.link || this.localHub) return;
        try {
          await this.establish();
          return;
        } catch (err) {
          if (!this.listening && this.unacked.length === 0) return;
          if (!this.listening && err instanceof PipeError && !['NO_LISTENER', 'TIMEOUT', 'UNREACHABLE'].includes(err.code)) {
            this.failPending(err);
            return;
          }
          this.status({ type: 'disconnected', detail: (err as Error).message });
        }
        await sleep(this.reconnectDelay(attempt));
      }
    } finally {
      this.reconnecting = false;
    }
  }

  private armTimeout(): void {
    if (this.timeoutTimer) return;
    this.timeoutTimer = setInterval(() => {
      const oldest = this.unacked.peek();
      if (!oldest) {
        clearInterval(this.timeoutTimer!);
        this.timeoutTimer = null;
        return;
      }
      if (Date.now() - oldest.at > this.opts.pushTimeoutMs) {
        this.failPending(
          this.link
            ? new PipeError('TIMEOUT', `${this.where()} did not accept the update within ${this.opts.pushTimeoutMs} ms`)
            : this.unreachable(),
        );
      }
    }, Math.min(250, this.opts.pushTimeoutMs));
  }

  /** The error for pushes that found no hub in time. */
  protected abstract unreachable(): PipeError;

  private failPending(err: Error): void {
    this.openBatch = null;
    for (const b of this.unacked.drain()) {
      // Given up on, but already on the link: the hub's count will include them when it
      // takes them, and must not be read as taking later pushes (C6).
      if (this.link) this.ackedOnLink += b.frames.count - b.taken;
      b.reject(err);
    }
  }
}
