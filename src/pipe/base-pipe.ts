import { EventEmitter } from 'node:events';
import { writeCanonicalEnvelope } from '../envelope/canonical-writer.js';
import { decodeEnvelope, encodeCheckedEnvelope } from '../envelope/codec.js';
import { ENVELOPE_VERSION, validateEnvelope, type Envelope, type Origin, type Seq } from '../envelope/envelope.js';
import { validateUpdate, type Update } from '../update/update.js';
import { Inbox } from './inbox.js';
import { newOrigin, Sequencer } from './origin.js';
import { withDefaults, type PipeOptions, type PipeStats, type PipeStatus, type UpdateHandler } from './update-pipe.js';

/** An update on its way out: its bytes and what a transport routes and deduplicates it by. */
export interface Outgoing {
  update: Update;
  origin: Origin;
  seq: Seq;
  bytes: Buffer;
}

/**
 * What message-oriented backends (one envelope per message) share: origin and sequence,
 * validation and encoding on the way out, size cap, decoding, rejection counting and the
 * dedup inbox on the way in, counters and status events.
 */
export abstract class BasePipe extends EventEmitter {
  readonly origin = newOrigin();
  protected readonly opts: Required<PipeOptions>;
  protected readonly inbox: Inbox;
  private readonly seq = new Sequencer();
  protected readonly counters = { pushed: 0, rejected: 0 };

  constructor(options: PipeOptions = {}, transport: { detectGaps?: boolean } = {}) {
    super();
    this.opts = withDefaults(options);
    this.inbox = new Inbox(this.origin, {
      maxQueued: this.opts.maxQueuedUpdates,
      originTtlMs: this.opts.originTtlMs,
      maxOrigins: this.opts.maxOrigins,
      gapGraceMs: this.opts.gapGraceMs,
      ...(transport.detectGaps === false ? { detectGaps: false } : {}),
      onHandlerError: (err) => this.status({ type: 'handler-error', detail: String((err as Error)?.stack ?? err) }),
      onResync: (reason) => this.status({ type: 'resync', detail: reason }),
    });
  }

  override on(event: 'status', listener: (s: PipeStatus) => void): this {
    return super.on(event, listener);
  }

  stats(): PipeStats {
    return this.inbox.statsInto({ pushed: this.counters.pushed, delivered: 0, duplicates: 0, gaps: 0, resyncs: 0, rejected: this.counters.rejected });
  }

  protected status(s: PipeStatus): void {
    if (s.type === 'rejected') this.counters.rejected++;
    this.emit('status', s);
  }

  protected setHandler(handler: UpdateHandler): void {
    this.inbox.setHandler(handler);
  }

  /**
   * Validates, numbers and encodes one update; with `frameKind`, as a whole stream frame.
   * Throws ValidationError before anything is sent.
   */
  protected envelope(u: Update, frameKind?: number): { env: Envelope; bytes: Buffer } {
    const env: Envelope = { v: ENVELOPE_VERSION, origin: this.origin, seq: 0, ts: Date.now(), update: validateUpdate(u) };
    env.seq = this.seq.next();
    this.counters.pushed++;
    return { env, bytes: encodeCheckedEnvelope(env, frameKind) };
  }

  /**
   * `envelope(u, frameKind).bytes`, the way most pushes can take: a canonical message
   * update is checked and written in one pass (canonical-writer.ts). Its seq is `lastSeq`.
   */
  protected frame(u: Update, frameKind?: number): Buffer {
    const bytes = writeCanonicalEnvelope(this.origin, this.seq.current + 1, Date.now(), u, frameKind);
    if (bytes === undefined) return this.envelope(u, frameKind).bytes;
    this.seq.next();
    this.counters.pushed++;
    return bytes;
  }

  /** The seq of the update pushed last. */
  protected get lastSeq(): Seq {
    return this.seq.current;
  }

  /** Checks and encodes somebody else's envelope for forwarding (origin and seq kept). */
  protected forwardEnvelope(env: Envelope, frameKind?: number): { env: Envelope; bytes: Buffer } {
    const checked = validateEnvelope(env);
    this.counters.pushed++;
    return { env: checked, bytes: encodeCheckedEnvelope(checked, frameKind) };
  }

  /**
   * One message from the transport: checked, decoded, deduplicated, delivered. Null if
   * rejected. `done` (a transport ack) runs once the handler is through with it, or at
   * once for a rejected message (redelivering garbage would not make it better).
   */
  protected receive(bytes: Uint8Array, from: string, done?: () => void): Envelope | null {
    if (bytes.length > this.opts.maxFrameBytes) {
      this.status({ type: 'rejected', detail: `${from}: message of ${bytes.length} bytes exceeds the ${this.opts.maxFrameBytes}-byte cap` });
      done?.();
      return null;
    }
    let env: Envelope;
    try {
      env = decodeEnvelope(bytes);
    } catch (err) {
      this.status({ type: 'rejected', detail: `${from}: ${(err as Error).message}` });
      done?.();
      return null;
    }
    this.inbox.accept(env, done);
    return env;
  }
}
