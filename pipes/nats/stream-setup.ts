import { AckPolicy, DeliverPolicy, DiscardPolicy, StorageType, type ConsumerInfo, type JetStreamManager } from '@nats-io/jetstream';
import { PipeError } from '../../src/errors.js';
import { natsError } from './connect.js';
import type { NatsSettings } from './nats-url.js';
import { allSubjects } from './subjects.js';

const nanos = (ms: number): number => ms * 1_000_000;

/**
 * Creates the stream, or checks that an existing one can carry the pipe: it must capture
 * our subjects and deduplicate publishes. Anything else is a configuration error with a
 * clear message, not a silent change to somebody's stream.
 */
export async function ensureStream(jsm: JetStreamManager, s: NatsSettings): Promise<void> {
  const subject = allSubjects(s.prefix);
  let info;
  try {
    info = await jsm.streams.info(s.stream);
  } catch (err) {
    if (!/stream not found/i.test((err as Error).message) && (err as { code?: number }).code !== 404) throw natsError(err, `stream ${s.stream}`);
  }
  if (info) {
    const c = info.config;
    if (!c.subjects?.includes(subject)) {
      throw new PipeError('USAGE', `NATS stream ${s.stream} exists with subjects ${JSON.stringify(c.subjects)}, not ${subject}: pick another stream=… or prefix`);
    }
    if (!c.duplicate_window || c.duplicate_window < nanos(1000)) {
      throw new PipeError('USAGE', `NATS stream ${s.stream} exists without a duplicate window: it cannot deduplicate retried publishes`);
    }
    return;
  }
  try {
    await jsm.streams.add({
      name: s.stream,
      subjects: [subject],
      storage: StorageType.File,
      num_replicas: s.replicas,
      duplicate_window: nanos(s.duplicateWindowMs),
      max_age: nanos(s.maxAgeMs),
      discard: DiscardPolicy.Old,
    });
  } catch (err) {
    // Another node may have created it a moment ago: check what is there.
    if (/already in use|exists/i.test((err as Error).message)) return ensureStream(jsm, s);
    throw natsError(err, `creating stream ${s.stream}`);
  }
}

/** The node's durable consumer; a new one starts at the stream's end (storage covers the past). */
export async function ensureConsumer(jsm: JetStreamManager, s: NatsSettings): Promise<ConsumerInfo> {
  try {
    return await jsm.consumers.info(s.stream, s.durable);
  } catch (err) {
    if (!/consumer not found/i.test((err as Error).message) && (err as { code?: number }).code !== 404) throw natsError(err, `consumer ${s.durable}`);
  }
  try {
    return await jsm.consumers.add(s.stream, {
      durable_name: s.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.New,
      filter_subject: allSubjects(s.prefix),
      max_ack_pending: 20_000,
      ack_wait: nanos(10_000),
    });
  } catch (err) {
    throw natsError(err, `creating consumer ${s.durable}`);
  }
}
