import { connect, type NatsConnection } from '@nats-io/transport-node';
import { encodeEnvelope, packValue } from '../../src/envelope/codec.js';
import { openPipe } from '../../src/pipe/open-pipe.js';
import type { UpdatePipe } from '../../src/pipe/update-pipe.js';
import { subjectFor } from '../../pipes/nats/subjects.js';
import type { BackendHarness } from '../conformance/suite.js';
import { NatsServer, natsSkip } from './nats-server.js';

const MAX_FRAME = 64 * 1024;

/** Conformance harness for `nats://…?mode=core|jetstream` on a private nats-server. */
export function natsHarness(mode: 'core' | 'jetstream'): BackendHarness {
  let server: NatsServer | null = null;
  let raw: NatsConnection | null = null;
  let n = 0;
  const prefix = `conf${mode}`;
  const url = (): string => `nats://${server!.hostPort}/${prefix}?mode=${mode}&timeout=2${mode === 'jetstream' ? `&durable=d${++n}` : ''}`;
  const okUpdate = { type: 'flags', user: 'alice', mailbox: 'INBOX', uid: 1, flags: [] };
  return {
    name: `nats ${mode}`,
    skip: natsSkip(),
    async setup() {
      server = await NatsServer.start({ jetstream: mode === 'jetstream' });
      raw = await connect({ servers: server.hostPort });
      // Create the stream up front so raw publishes land in it.
      const p = await openPipe(url());
      await p.initPush();
      await p.close();
    },
    async teardown() {
      await raw?.close();
      await server?.stop();
    },
    open: (o) => openPipe(url(), { maxFrameBytes: MAX_FRAME, ...o }),
    async rawSend(envs) {
      for (const e of envs) raw!.publish(subjectFor(prefix, e.update), encodeEnvelope(e));
      await raw!.flush();
    },
    async rawBytes(bytes) {
      raw!.publish(`${prefix}.raw.bytes`, bytes);
      await raw!.flush();
    },
    badInputs: () => [
      { name: 'random bytes', bytes: Buffer.from('GET / HTTP/1.1\r\n\r\n') },
      { name: 'empty payload', bytes: Buffer.alloc(0) },
      { name: 'truncated msgpack', bytes: encodeEnvelope({ v: 1, origin: 'bad', seq: 1, ts: 1, update: okUpdate as never }).subarray(0, 20) },
      { name: 'wrong shape', bytes: packValue([1, 2, 3]) },
      { name: 'wrong version', bytes: packValue({ v: 9, origin: 'bad', seq: 1, ts: 1, update: okUpdate }) },
      { name: 'invalid update', bytes: packValue({ v: 1, origin: 'bad', seq: 1, ts: 1, update: { ...okUpdate, uid: -1 } }) },
      { name: 'oversized', bytes: Buffer.alloc(MAX_FRAME + 1000, 0x41) },
      { name: 'hostile nesting', bytes: Buffer.concat([Buffer.alloc(50_000, 0x91), Buffer.from([1])]) },
    ],
    rejected: (pipes: UpdatePipe[]) => pipes.reduce((sum, p) => sum + p.stats().rejected, 0),
  };
}
