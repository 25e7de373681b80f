import { jetstream, jetstreamManager, type ConsumerMessages, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { PipeError } from '../../src/errors.js';
import type { PipeOptions, UpdateHandler, UpdatePipe } from '../../src/pipe/update-pipe.js';
import type { Outgoing } from '../../src/pipe/base-pipe.js';
import { natsError } from './connect.js';
import { NatsCorePipe } from './core-pipe.js';
import type { NatsSettings } from './nats-url.js';
import { ensureConsumer, ensureStream } from './stream-setup.js';
import { subjectFor } from './subjects.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * `nats://…?mode=jetstream`: every update is stored in a stream (with server-side dedup by
 * `Nats-Msg-Id = origin:seq`, so retried publishes are dropped) and read through a durable
 * consumer per node, so a node that was down resumes where it stopped. Client-side dedup
 * drops redeliveries. After a failover, redelivered messages may arrive after newer ones:
 * they fill their origin's holes and are delivered once; a hole still open after the
 * redelivery wait (messages aged out of the stream) becomes a resync.
 */
export class NatsJetStreamPipe extends NatsCorePipe implements UpdatePipe {
  private js: JetStreamClient | null = null;
  private ready: Promise<JetStreamClient> | null = null;
  private messages: ConsumerMessages | null = null;
  private consuming: Promise<void> | null = null;

  /** The durable consumer delivers what this node missed while it was down. */
  readonly resumes = true;

  constructor(url: string, settings: NatsSettings, options: PipeOptions = {}) {
    // A message lost to a failover comes back after the consumer's ack wait (10 s). A push
    // rides through a failover (a stream leader elected anew can take seconds on a busy
    // cluster) for up to 15 s: retries carry the same msgID, so none is stored twice.
    super(url, settings, { gapGraceMs: 15_000, pushTimeoutMs: 15_000, ...options });
  }

  /**
   * A cluster that is electing a leader or under load answers JetStream requests late:
   * retry timeouts until the URL's `timeout`, then give up with the last error.
   */
  private async patiently<T>(what: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.settings.connectTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await what();
      } catch (err) {
        const code = err instanceof PipeError ? err.code : natsError(err, '').code;
        if ((code !== 'TIMEOUT' && code !== 'UNREACHABLE') || Date.now() >= deadline) throw err;
        await sleep(Math.min(1_000, 100 * 2 ** attempt) * (0.5 + Math.random()));
      }
    }
  }

  private jetstream(): Promise<JetStreamClient> {
    this.ready ??= (async () => {
      const nc: NatsConnection = await this.connection();
      const jsm = await this.patiently(() => jetstreamManager(nc, { timeout: 2_000 })).catch((err: unknown) => {
        throw natsError(err, 'JetStream is not available on this NATS server (start it with -js)');
      });
      await this.patiently(() => ensureStream(jsm, this.settings));
      this.js = jetstream(nc);
      return this.js;
    })().catch((err: unknown) => {
      this.ready = null;
      throw err;
    });
    return this.ready;
  }

  /** The durable consumer redelivers what we missed: no blanket resync on reconnect. */
  protected override onReconnect(): void {}

  override async initPush(): Promise<void> {
    await this.jetstream();
  }

  override async listen(handler: UpdateHandler): Promise<void> {
    if (this.inbox.listening) throw new PipeError('USAGE', 'listen() was already called on this pipe');
    const js = await this.jetstream();
    const nc = await this.connection();
    await this.patiently(async () => ensureConsumer(await jetstreamManager(nc, { timeout: 2_000 }), this.settings));
    this.setHandler(handler);
    this.consuming = this.consumeForever(js);
  }

  /**
   * Reads the durable consumer until close. A failover can end the iterator (consumer
   * leader moved, heartbeats missed): start it again; unacked messages are redelivered and
   * dropped as copies if we had them already.
   */
  private async consumeForever(js: JetStreamClient): Promise<void> {
    for (let attempt = 0; !this.closingNow; attempt++) {
      try {
        const consumer = await js.consumers.get(this.settings.stream, this.settings.durable);
        // Pulls expire every 5 s, so two missed heartbeats (a consumer leader lost in a
        // failover) are noticed in 5 s and the pull is renewed, not after the default 30 s.
        this.messages = await consumer.consume({ max_messages: 1000, expires: 5_000 });
        // close() may have come while we were getting here: it closed the iterator before
        // this one (or none), so this one must be closed here or the loop never ends.
        if (this.closingNow) {
          void this.messages.close().catch(() => {});
          break;
        }
        attempt = 0;
        for await (const m of this.messages) {
          // Acked once handled, not on arrival: a node that dies mid-handler gets the
          // update again from its durable (and dedup drops it if it was handled after all).
          this.receive(m.data, m.subject, () => m.ack());
        }
      } catch (err) {
        if (!this.closingNow) this.status({ type: 'disconnected', detail: `JetStream consumer: ${(err as Error).message}; retrying` });
      }
      if (!this.closingNow) await sleep(Math.min(2_000, 100 * 2 ** Math.min(attempt, 5)) * (0.5 + Math.random()));
    }
  }

  protected override publishEnvelope(encode: () => Outgoing): Promise<void> {
    if (this.closingNow) return Promise.reject(new PipeError('CLOSED', 'pipe is closed'));
    let out: Outgoing;
    try {
      out = encode();
    } catch (err) {
      return Promise.reject(err);
    }
    const subject = subjectFor(this.settings.prefix, out.update);
    const msgID = `${out.origin}:${out.seq}`;
    const p = this.publish(subject, out.bytes, msgID);
    this.track(p);
    return p;
  }

  /** Publishes until a PubAck, retrying through failovers with the same msgID (dedup makes retries safe). */
  private async publish(subject: string, bytes: Buffer, msgID: string): Promise<void> {
    const deadline = Date.now() + this.opts.pushTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        const js = await this.jetstream();
        await js.publish(subject, bytes, { msgID, timeout: Math.max(500, Math.min(2_000, deadline - Date.now())) });
        return;
      } catch (err) {
        const mapped = natsError(err, 'JetStream publish');
        if (mapped.code === 'AUTH' || mapped.code === 'USAGE' || mapped.code === 'REFUSED' || Date.now() >= deadline) throw mapped;
        await sleep(Math.min(500, 20 * 2 ** attempt) * (0.5 + Math.random()));
      }
    }
  }

  protected override async beforeClose(): Promise<void> {
    await this.messages?.close().catch(() => {});
    await this.consuming;
    // Let updates already received be handled (and acked) before the connection drains;
    // a handler stuck longer leaves them unacked, so the durable hands them out again.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.inbox.idle(), new Promise<void>((r) => (timer = setTimeout(r, 2_000)))]);
    clearTimeout(timer);
  }
}
