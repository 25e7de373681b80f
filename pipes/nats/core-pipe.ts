import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { PipeError } from '../../src/errors.js';
import { BasePipe, type Outgoing } from '../../src/pipe/base-pipe.js';
import type { PipeOptions, UpdateHandler, UpdatePipe } from '../../src/pipe/update-pipe.js';
import type { Envelope } from '../../src/envelope/envelope.js';
import { resyncAll, type Update } from '../../src/update/update.js';
import { connectNats, natsError } from './connect.js';
import { redactNatsUrl, type NatsSettings } from './nats-url.js';
import { decodeBatch, isBatch, MAX_BATCH_UPDATES, SubjectBatcher } from './subject-batch.js';
import { readCanonicalBatch } from '../../src/envelope/canonical-reader.js';
import { allSubjects, encodeToken, NONE, subjectFor } from './subjects.js';
import { validateDecodedEnvelope } from '../../src/envelope/envelope.js';

/**
 * `nats://…?mode=core`: at-most-once NATS publish/subscribe, made safe by the envelope:
 * copies are dropped, and any disconnect or slow-consumer drop becomes a resync, since
 * core NATS keeps nothing for a subscriber that was away.
 */
export class NatsCorePipe extends BasePipe implements UpdatePipe {
  protected nc: NatsConnection | null = null;
  private connecting: Promise<NatsConnection> | null = null;
  private sub: Subscription | null = null;
  private closing = false;
  private turnFlush: Promise<void> | null = null;
  /** What a batch's publish threw this turn, for the turn's flush to report. */
  private publishError: unknown = null;
  private readonly pending = new Set<Promise<void>>();
  /** Connections nats.js has lost so far: a turn whose flush spans one cannot trust it. */
  private disconnects = 0;
  private waitingForConnect = 0;
  /** subscribe=interest: subject → [subscription, how many watch() calls want it]. */
  private readonly interest = new Map<string, [Subscription, number]>();
  private readonly batcher: SubjectBatcher;

  constructor(
    protected readonly url: string,
    protected readonly settings: NatsSettings,
    options: PipeOptions = {},
  ) {
    // A listener that sees only some mailboxes sees holes in every origin's sequence:
    // loss is detected from the connection (disconnect, slow consumer) instead.
    super(options, settings.subscribe === 'interest' ? { detectGaps: false } : {});
    // Only ever emitted once connected: publishes wait for the connection (below).
    this.batcher = new SubjectBatcher((subject, payload) => this.publishNow(this.nc!, subject, payload));
  }

  /** True with subscribe=interest: only watched mailboxes are delivered. */
  get interestOnly(): boolean {
    return this.settings.subscribe === 'interest';
  }

  private subscribeTo(nc: NatsConnection, subject: string): Subscription {
    return nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) {
          this.status({ type: 'disconnected', detail: `subscription: ${err.message}` });
          return;
        }
        this.receiveMessage(msg.data, msg.subject);
      },
    });
  }

  /** One NATS message: an envelope, or a batch of them (subject-batch.ts). */
  private receiveMessage(data: Uint8Array, subject: string): void {
    if (!isBatch(data)) return void this.receive(data, subject);
    if (data.length > this.opts.maxFrameBytes) {
      this.status({ type: 'rejected', detail: `${subject}: batch of ${data.length} bytes exceeds the ${this.opts.maxFrameBytes}-byte cap` });
      return;
    }
    const canonical = readCanonicalBatch(data, MAX_BATCH_UPDATES);
    if (canonical !== undefined) {
      for (const env of canonical) this.inbox.accept(env);
      return;
    }
    let values: unknown[];
    try {
      values = decodeBatch(data);
    } catch (err) {
      this.status({ type: 'rejected', detail: `${subject}: ${(err as Error).message}` });
      return;
    }
    // Each envelope stands on its own: a bad one is rejected, the others delivered (and a
    // hole it leaves in its origin's sequence is a gap like any other).
    for (const v of values) {
      let env: Envelope;
      try {
        env = validateDecodedEnvelope(v);
      } catch (err) {
        this.status({ type: 'rejected', detail: `${subject}: ${(err as Error).message}` });
        continue;
      }
      this.inbox.accept(env);
    }
  }

  private interestSubjects(user: string, mailbox?: string): string[] {
    const u = `${this.settings.prefix}.${encodeToken(user)}`;
    return mailbox === undefined ? [`${u}.*`] : [`${u}.${encodeToken(mailbox)}`, `${u}.${NONE}`];
  }

  /** subscribe=interest: start receiving a mailbox's (or a whole account's) updates. */
  async watch(user: string, mailbox?: string): Promise<void> {
    const nc = await this.connection();
    for (const subject of this.interestSubjects(user, mailbox)) {
      const entry = this.interest.get(subject);
      if (entry) entry[1]++;
      else this.interest.set(subject, [this.subscribeTo(nc, subject), 1]);
    }
    await nc.flush();
  }

  async unwatch(user: string, mailbox?: string): Promise<void> {
    for (const subject of this.interestSubjects(user, mailbox)) {
      const entry = this.interest.get(subject);
      if (!entry) continue;
      if (--entry[1] === 0) {
        entry[0].unsubscribe();
        this.interest.delete(subject);
      }
    }
  }

  protected async connection(): Promise<NatsConnection> {
    if (this.nc) return this.nc;
    if (this.closing) throw new PipeError('CLOSED', 'pipe is closed');
    this.connecting ??= connectNats(this.settings, `updatepipe ${this.origin}`).then(
      (nc) => {
        this.nc = nc;
        void this.watchStatus(nc);
        this.status({ type: 'connected', detail: redactNatsUrl(this.url) });
        return nc;
      },
      (err: unknown) => {
        this.connecting = null;
        throw err;
      },
    );
    return this.connecting;
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          this.disconnects++;
          this.status({ type: 'disconnected', detail: `NATS ${s.server}` });
          break;
        case 'reconnect':
          this.status({ type: 'connected', detail: `NATS ${s.server} (reconnected)` });
          this.onReconnect();
          break;
        case 'slowConsumer':
          // The client dropped messages for us: the only honest answer is a resync.
          if (this.inbox.listening) this.inbox.resync(resyncAll(), 'overflow');
          break;
        case 'error':
          this.status({ type: 'disconnected', detail: `NATS error: ${s.error.message}` });
          break;
        default:
          break;
      }
    }
  }

  /** Core NATS lost whatever was published while we were away. */
  protected onReconnect(): void {
    if (this.inbox.listening) this.inbox.resync(resyncAll(), 'reconnect');
  }

  async listen(handler: UpdateHandler): Promise<void> {
    if (this.inbox.listening) throw new PipeError('USAGE', 'listen() was already called on this pipe');
    const nc = await this.connection();
    this.setHandler(handler);
    // With subscribe=interest only the all-users resyncs come unasked; watch() adds the rest.
    this.sub = this.subscribeTo(nc, this.interestOnly ? `${this.settings.prefix}.${NONE}.${NONE}` : allSubjects(this.settings.prefix));
    // The subscription is live once the server has seen it.
    await nc.flush();
  }

  async initPush(): Promise<void> {
    await this.connection();
  }

  protected get closingNow(): boolean {
    return this.closing;
  }

  /** Remembers a push so close() can wait for it (C6). */
  protected track(p: Promise<void>): void {
    this.pending.add(p);
    const done = (): void => void this.pending.delete(p);
    p.then(done, done);
  }

  push(u: Update): Promise<void> {
    // Once checked, the update routes as its canonical form would (same user and mailbox).
    return this.publishEnvelope(() => {
      const bytes = this.frame(u);
      return { update: u, origin: this.origin, seq: this.lastSeq, bytes };
    });
  }

  /** Relays somebody else's update unchanged (see ForwardingPipe). */
  forward(env: Envelope): Promise<void> {
    return this.publishEnvelope(() => {
      const { env: checked, bytes } = this.forwardEnvelope(env);
      return { update: checked.update, origin: checked.origin, seq: checked.seq, bytes };
    });
  }

  protected publishEnvelope(encode: () => Outgoing): Promise<void> {
    if (this.closing) return Promise.reject(new PipeError('CLOSED', 'pipe is closed'));
    let bytes: Buffer;
    let update: Update;
    try {
      ({ update, bytes } = encode());
    } catch (err) {
      return Promise.reject(err);
    }
    const subject = subjectFor(this.settings.prefix, update);
    const nc = this.nc;
    // Connected and nothing queued behind the connect: publish now, in push order.
    if (nc && this.waitingForConnect === 0) {
      this.publishCore(nc, subject, bytes);
      return this.flushed(nc);
    }
    this.waitingForConnect++;
    const p = this.connection().then(
      (c) => {
        this.waitingForConnect--;
        this.publishCore(c, subject, bytes);
        return this.flushed(c);
      },
      (err: unknown) => {
        this.waitingForConnect--;
        throw natsError(err, 'push');
      },
    );
    this.track(p);
    return p;
  }

  /** Always followed by the turn's flush (flushed()), which reports what publishing threw. */
  private publishCore(nc: NatsConnection, subject: string, bytes: Buffer): void {
    if (this.settings.batch) this.batcher.add(subject, bytes);
    else this.publishNow(nc, subject, bytes);
  }

  /**
   * nats.js throws from publish (a connection it closed, a payload over the server's
   * limit), and a batch goes out on a later tick, where a throw would be uncaught: the
   * error is kept for the turn's flush, which fails the turn's pushes with it.
   */
  private publishNow(nc: NatsConnection, subject: string, payload: Buffer): void {
    try {
      nc.publish(subject, payload);
    } catch (err) {
      this.publishError ??= err;
    }
  }

  /**
   * Accepted = the server has processed everything we published: one PING/PONG per turn,
   * and one promise shared by every push of that turn (a promise per push is most of the
   * cost of a push at full speed).
   *
   * A PONG answers only for the connection it came on. nats.js empties its outgoing
   * buffer when it redials, so a turn that published on a failing connection can have its
   * PING answered by the next one, its publishes gone: such a turn is rejected (a rejected
   * push may still have arrived; an accepted one must have).
   */
  private flushed(nc: NatsConnection): Promise<void> {
    if (this.turnFlush) return this.turnFlush;
    const disconnectsBefore = this.disconnects;
    const p = new Promise<void>((resolve, reject) => {
      setImmediate(() => {
        this.turnFlush = null;
        this.batcher.emit(); // already out, unless a push came in this very phase
        const failed = this.publishError;
        this.publishError = null;
        if (failed !== null) return reject(natsError(failed, 'push'));
        const timer = setTimeout(() => reject(new PipeError('TIMEOUT', `NATS did not confirm the push within ${this.opts.pushTimeoutMs} ms`)), this.opts.pushTimeoutMs);
        nc.flush().then(
          () => {
            clearTimeout(timer);
            if (this.disconnects === disconnectsBefore) return resolve();
            reject(new PipeError('UNREACHABLE', 'push: the NATS connection was lost before the server confirmed it'));
          },
          (e: unknown) => (clearTimeout(timer), reject(natsError(e, 'push'))),
        );
      });
    });
    this.turnFlush = p;
    this.track(p);
    return p;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await Promise.allSettled([...this.pending]);
    const nc = this.nc ?? (await this.connecting?.catch(() => null)) ?? null;
    this.sub?.unsubscribe();
    for (const [sub] of this.interest.values()) sub.unsubscribe();
    this.interest.clear();
    this.inbox.dispose();
    await this.beforeClose();
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
  }

  protected async beforeClose(): Promise<void> {}
}
