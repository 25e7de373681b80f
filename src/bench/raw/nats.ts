import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { BATCH, type WorkerSpec } from '../spec.js';
import { envelopeReader, type RawEnvelope, rawBatch, rawEnvelope, sendAtRate } from './frames.js';

/** `target` is `host:port/STREAM`; the raw baselines use subjects `raw.<stream>.…`. */
function parse(target: string): { servers: string; stream: string; subject: string } {
  const [servers, stream] = target.split('/') as [string, string];
  return { servers, stream, subject: `raw.${stream}.alice.INBOX` };
}

/** Core: a plain subscription. JetStream: a durable explicit-ack consumer, like the pipe's. */
export async function listen(spec: WorkerSpec, onUpdate: (env: RawEnvelope) => void): Promise<void> {
  const { servers, stream } = parse(spec.target);
  const nc = await connect({ servers });
  const read = envelopeReader(onUpdate);
  if (spec.transport === 'nats') {
    nc.subscribe(`raw.${stream}.>`, { callback: (_e, m) => read(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength)) });
    await nc.flush();
    return;
  }
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`raw.${stream}.>`] }).catch(() => {});
  const durable = `raw${process.pid}`;
  await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New });
  const messages = await (await jetstream(nc).consumers.get(stream, durable)).consume({ max_messages: 1000 });
  void (async () => {
    for await (const m of messages) {
      read(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
      m.ack();
    }
  })();
}

/** Core: one publish per update (or batch), then a flush. JetStream: PubAcks, 1,000 in flight. */
export async function push(spec: WorkerSpec): Promise<() => Promise<void>> {
  const { servers, subject } = parse(spec.target);
  const nc = await connect({ servers });
  const js = jetstream(nc);
  const step = spec.kind === 'raw' ? 1 : BATCH;
  const payload = (i: number): Buffer => (spec.kind === 'raw' ? rawEnvelope(i) : rawBatch(i, spec.n));
  if (spec.rate && spec.transport === 'nats') {
    return async () => {
      await sendAtRate(spec.rate!, spec.n, (i, stamp) => nc.publish(subject, rawEnvelope(i, stamp)));
      await nc.flush();
      await nc.close();
    };
  }
  return async () => {
    let window: Promise<unknown>[] = [];
    for (let i = 0; i < spec.n; i += step) {
      if (spec.transport === 'nats') nc.publish(subject, payload(i));
      else {
        window.push(js.publish(subject, payload(i)));
        if (window.length >= 1000) await Promise.all(window.splice(0));
      }
    }
    await Promise.all(window);
    await nc.flush();
    window = [];
    await nc.close();
  };
}
