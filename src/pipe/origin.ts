import type { Origin, Seq } from '../envelope/envelope.js';
import { randomBytes } from '../random-bytes.js';

/** A fresh origin per pipe instance: a restarted process never reuses an old (origin, seq). */
export function newOrigin(): Origin {
  return randomBytes(9).toString('base64url');
}

/** Hands out an origin's sequence numbers: 1, 2, 3, … */
export class Sequencer {
  private last: Seq = 0;
  next(): Seq {
    return ++this.last;
  }
  get current(): Seq {
    return this.last;
  }
}
