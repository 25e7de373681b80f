import type { Duplex } from 'node:stream';

/**
 * Holds a socket's writes until the end of the current tick, then lets them out in one
 * writev. `ws` writes every message on its own; a burst of small updates would otherwise
 * cost one system call each, which is most of a hub's and a pusher's time under load.
 */
export class TickCork {
  private corked = false;

  constructor(private readonly socket: Duplex) {}

  /** Call before each send of a burst. */
  hold(): void {
    if (this.corked || this.socket.destroyed) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(() => {
      this.corked = false;
      this.socket.uncork();
    });
  }
}
