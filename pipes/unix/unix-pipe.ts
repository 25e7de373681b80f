import path from 'node:path';
import { PipeError } from '../../src/errors.js';
import { HubClientPipe, type HubLink, type LocalHub } from '../../src/hub/hub-client-pipe.js';
import type { Hello, Welcome } from '../../src/hub/hub-protocol.js';
import type { PipeOptions } from '../../src/pipe/update-pipe.js';
import { OwnerLink } from './owner-link.js';
import { checkDirectory, refuseSymlink } from './socket-file.js';
import { socketPathOf } from './unix-url.js';

export interface UnixPipeOptions extends PipeOptions {
  /** Mode of the socket file when this instance binds it. */
  socketMode?: number;
  /** Bytes the owner queues for one slow listener before cutting it off. */
  maxPeerBuffer?: number;
  /**
   * A listener with over a quarter of maxPeerBuffer queued holds every pusher back (the
   * owner stops reading) until it catches up; one that takes nothing for this long
   * meanwhile is cut off instead (default 1000 ms), and so is one still behind after three
   * times that.
   */
  listenerStallMs?: number;
  maxPeers?: number;
  /** A peer that has not said HELLO by then is dropped (when this instance owns the socket). */
  helloTimeoutMs?: number;
}

const CONNECT_TIMEOUT_MS = 2_000;
/** How long a pusher waits on a stale socket for a surviving listener to take it over. */
const STALE_GRACE_MS = 500;

/**
 * `unix:` pipe: no daemon. The first listener binds the path and relays for everyone else
 * (see SocketOwner); every other process connects to it. When the owner goes away a
 * surviving listener takes the path over, and clients reconnect and resend what the owner
 * had not acknowledged.
 */
export class UnixPipe extends HubClientPipe {
  readonly file: string;
  private readonly unixOpts: { socketMode: number; maxPeerBuffer: number; maxPeers: number; helloTimeoutMs: number; listenerStallMs: number };

  constructor(url: string, options: UnixPipeOptions = {}) {
    super(options);
    this.file = socketPathOf(url);
    this.unixOpts = {
      socketMode: options.socketMode ?? 0o660,
      maxPeerBuffer: options.maxPeerBuffer ?? 8 * 1024 * 1024,
      maxPeers: options.maxPeers ?? 1024,
      helloTimeoutMs: options.helloTimeoutMs ?? 5_000,
      listenerStallMs: options.listenerStallMs ?? 1_000,
    };
  }

  protected where(): string {
    return `unix:${this.file}`;
  }

  protected override async prepareListen(): Promise<void> {
    await checkDirectory(path.dirname(this.file), true);
  }

  protected async openLink(hello: Hello): Promise<{ link: HubLink; welcome: Welcome }> {
    await refuseSymlink(this.file);
    return OwnerLink.connect(this.file, hello, this.opts.maxFrameBytes, CONNECT_TIMEOUT_MS);
  }

  protected async noHub(err: PipeError, _attempt: number, startedAt: number): Promise<LocalHub | null> {
    if (err.code !== 'NO_LISTENER') throw err;
    if (!this.listening) {
      // A stale socket file may be a takeover in progress: give it a moment.
      const stale = (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED';
      if (!stale || Date.now() - startedAt > STALE_GRACE_MS) throw err;
      return null;
    }
    // Only listeners can own the socket: pushers never load the owner's code.
    const { SocketOwner } = await import('./socket-owner.js');
    return SocketOwner.bind(this.file, {
      mode: this.unixOpts.socketMode,
      maxFrameBytes: this.opts.maxFrameBytes,
      maxPeerBuffer: this.unixOpts.maxPeerBuffer,
      stallMs: this.unixOpts.listenerStallMs,
      maxPeers: this.unixOpts.maxPeers,
      helloTimeoutMs: this.unixOpts.helloTimeoutMs,
      onUpdate: (env) => this.deliverLocal(env),
      onRejected: (reason) => this.status({ type: 'rejected', detail: reason }),
      onLost: () => this.localHubLost(),
    });
  }

  protected override retryDelay(attempt: number): number {
    return this.listening ? super.retryDelay(attempt) : 25;
  }

  protected unreachable(): PipeError {
    return new PipeError('NO_LISTENER', `nobody is listening on unix:${this.file}`);
  }
}
