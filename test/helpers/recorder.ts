import type { Meta, UpdateHandler } from '../../src/pipe/update-pipe.js';
import type { Update } from '../../src/update/update.js';

export interface Received {
  u: Update;
  meta: Meta;
}

/** Collects what a handler was given. */
export class Recorder {
  readonly got: Received[] = [];
  readonly handler: UpdateHandler = (u, meta) => {
    this.got.push({ u, meta });
  };

  /** Received updates that were pushed (not pipe-made resyncs). */
  get updates(): Received[] {
    return this.got.filter((r) => r.meta.reason === undefined);
  }

  get resyncs(): Received[] {
    return this.got.filter((r) => r.meta.reason !== undefined);
  }

  from(origin: string): Received[] {
    return this.got.filter((r) => r.meta.origin === origin && r.meta.reason === undefined);
  }
}

export function flagsUpdate(uid: number, user = 'alice'): Update {
  return { type: 'flags', user, mailbox: 'INBOX', uid, flags: ['\\Seen'] };
}
