import { decodeEnvelopeAt } from '../envelope/codec.js';
import { FRAME_HEADER } from '../envelope/frame.js';
import { PipeError } from '../errors.js';
import { readBatch } from './batch-frames.js';
import type { HubLink, LinkEvents } from './hub-client-pipe.js';
import { decodeAck, decodeNotice, decodeWelcome, Kind, type HubSeq, type Welcome } from './hub-protocol.js';

/**
 * The client side of the hub protocol, whatever carries it (Unix stream, WebSocket): the
 * HELLO/WELCOME handshake, hub numbering of UPDATE frames, ACKs and NOTICEs, and holding
 * frames that arrive behind WELCOME until the pipe attaches.
 */
export abstract class HubLinkBase implements HubLink {
  protected events: LinkEvents | null = null;
  protected closeReason: string | null = null;
  private early: [number, Buffer][] = [];
  private closedEarly = false;
  private nextHub: HubSeq = 0;

  /** "owner" or "hub", for messages. */
  protected abstract readonly peer: string;
  abstract send(frame: Buffer): void;
  abstract end(): Promise<void>;
  abstract destroy(): void;

  /** A frame before WELCOME: the WELCOME itself, or null for a NOTICE (why we will be dropped). */
  protected handshake(kind: number, body: Buffer): Welcome | null {
    if (kind === Kind.Notice) {
      this.notice(body);
      return null;
    }
    if (kind !== Kind.Welcome) throw new PipeError('BAD_FRAME', 'expected WELCOME');
    const welcome = decodeWelcome(body);
    this.nextHub = welcome.first;
    return welcome;
  }

  /** Events start flowing only once the pipe that owns this link is ready for them. */
  attach(events: LinkEvents): void {
    this.events = events;
    const early = this.early;
    this.early = [];
    try {
      for (const [kind, body] of early) this.onFrame(kind, body);
    } catch (err) {
      events.onRejected((err as Error).message);
      this.destroy();
    }
    if (this.closedEarly) events.onClose(this.closeReason);
  }

  /** The transport is gone. */
  protected closed(): void {
    if (this.events) this.events.onClose(this.closeReason);
    else this.closedEarly = true;
  }

  /**
   * `onFrame` for the frame at `buf[start, end)` (header included) of a stream: an UPDATE
   * is decoded in place, without a view of its own (see FrameDecoder.pushAt).
   */
  protected onFrameAt(kind: number, buf: Buffer, start: number, end: number): void {
    if (kind !== Kind.Update || this.events === null) return this.onFrame(kind, buf.subarray(start + FRAME_HEADER, end));
    this.update(this.events, buf, start + FRAME_HEADER, end);
  }

  /** The UPDATE whose body is `buf[start, end)`. */
  private update(events: LinkEvents, buf: Buffer, start: number, end: number): void {
    const hub = this.nextHub++;
    try {
      events.onUpdate(decodeEnvelopeAt(buf, start, end), hub);
    } catch (err) {
      // The hub validates before relaying, so this means a bug or version skew: drop
      // the frame, count it, and keep the stream (the gap detector covers the loss).
      events.onRejected(`bad update from ${this.peer}: ${(err as Error).message}`);
    }
  }

  /** A frame after WELCOME. Throws BAD_FRAME for a kind a hub never sends. */
  protected onFrame(kind: number, body: Buffer): void {
    if (this.events === null) {
      this.early.push([kind, Buffer.from(body)]);
      return;
    }
    switch (kind) {
      case Kind.Update:
        this.update(this.events, body, 0, body.length);
        return;
      case Kind.Batch: {
        const events = this.events;
        readBatch(body, 0, (start, end) => this.update(events, body, start + FRAME_HEADER, end));
        return;
      }
      case Kind.Ack:
        this.events.onAck(decodeAck(body));
        return;
      case Kind.Notice:
        this.notice(body);
        return;
      default:
        throw new PipeError('BAD_FRAME', `unexpected frame kind ${kind} from ${this.peer}`);
    }
  }

  private notice(body: Buffer): void {
    const n = decodeNotice(body);
    this.closeReason = `${n.code}: ${n.message}`;
  }
}
