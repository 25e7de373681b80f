import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { encodeEnvelope, packValue, unpackValue } from '../../src/envelope/codec.js';
import type { Envelope } from '../../src/envelope/envelope.js';
import { openPipe } from '../../src/pipe/open-pipe.js';
import type { UpdatePipe } from '../../src/pipe/update-pipe.js';
import type { Update } from '../../src/update/update.js';
import { MAX_BATCH_BYTES, MAX_BATCH_UPDATES } from '../../pipes/nats/subject-batch.js';
import { NatsServer, natsSkip } from '../helpers/nats-server.js';
import { Recorder } from '../helpers/recorder.js';
import { sleep, waitFor } from '../helpers/wait.js';

const skip = natsSkip();
const flags = (uid: number, mailbox = 'INBOX'): Update => ({ type: 'flags', user: 'alice', mailbox, uid, flags: ['\\Seen'] });
const env = (origin: string, seq: number, uid = seq): Envelope => ({ v: 1, origin, seq, ts: 1_700_000_000_000, update: flags(uid) as never });

/** A msgpack array header and the envelopes' own bytes: what a batch is on the wire. */
function batchOf(parts: Buffer[], header = Buffer.from([0xdc, parts.length >> 8, parts.length & 0xff])): Buffer {
  return Buffer.concat([header, ...parts]);
}

describe('NATS core batches: consecutive pushes to one subject go as one message', { skip }, () => {
  let server: NatsServer;
  let raw: NatsConnection;
  let n = 0;
  const pipes: UpdatePipe[] = [];
  const url = (extra = ''): string => `nats://${server.hostPort}/batch${n}?mode=core${extra}`;
  const open = async (u: string, maxFrameBytes?: number): Promise<UpdatePipe> => {
    const p = await openPipe(u, maxFrameBytes ? { maxFrameBytes } : {});
    pipes.push(p);
    return p;
  };
  /** Every NATS message on the prefix, as it went over the wire. */
  const tap = async (): Promise<Uint8Array[]> => {
    const seen: Uint8Array[] = [];
    raw.subscribe(`batch${n}.>`, { callback: (_e, m) => void seen.push(m.data) });
    await raw.flush();
    return seen;
  };

  before(async () => {
    server = await NatsServer.start();
    raw = await connect({ servers: server.hostPort });
  });
  after(async () => {
    await Promise.all(pipes.map((p) => p.close().catch(() => {})));
    await raw.close();
    await server.stop();
  });

  test('a burst to one mailbox: a few messages, every update once, in push order', async () => {
    n++;
    const seen = await tap();
    const r = new Recorder();
    await (await open(url())).listen(r.handler);
    const p = await open(url());
    const N = 3000;
    await Promise.all(Array.from({ length: N }, (_, i) => p.push(flags(i + 1))));
    await waitFor(() => r.updates.length === N, `${N} updates`);
    assert.deepEqual(r.updates.map((x) => x.meta.seq), Array.from({ length: N }, (_, i) => i + 1));
    assert.ok(seen.length <= Math.ceil(N / MAX_BATCH_UPDATES) + Math.ceil((N * 130) / MAX_BATCH_BYTES), `${seen.length} NATS messages for ${N} updates`);
    for (const m of seen) assert.ok(m.length <= MAX_BATCH_BYTES + 3, `a batch of ${m.length} bytes`);
    // Plain msgpack: any library reads a batch as an array of envelopes.
    const first = unpackValue(seen[0]!) as Envelope[];
    assert.ok(Array.isArray(first) && first.length > 1 && first[0]!.seq === 1);
  });

  test('pushes that alternate between mailboxes keep their order; interest subscribers get only theirs', async () => {
    n++;
    const r = new Recorder();
    await (await open(url())).listen(r.handler);
    const interested = new Recorder();
    const watcher = (await open(url('&subscribe=interest'))) as UpdatePipe & { watch(user: string, mailbox?: string): Promise<void> };
    await watcher.listen(interested.handler);
    await watcher.watch('alice', 'Archive');
    const p = await open(url());
    const boxes = ['INBOX', 'INBOX', 'Archive', 'Sent', 'Archive', 'Archive'];
    const N = 1200;
    await Promise.all(Array.from({ length: N }, (_, i) => p.push(flags(i + 1, boxes[i % boxes.length]))));
    await waitFor(() => r.updates.length === N, `${N} updates`);
    assert.deepEqual(r.updates.map((x) => x.meta.seq), Array.from({ length: N }, (_, i) => i + 1));
    assert.equal(r.resyncs.length, 0, 'no gap was seen');
    const archive = Array.from({ length: N }, (_, i) => i + 1).filter((s) => boxes[(s - 1) % boxes.length] === 'Archive');
    await waitFor(() => interested.updates.length === archive.length, 'the Archive updates');
    assert.deepEqual(interested.updates.map((x) => x.meta.seq), archive);
  });

  test('batch=off: one message per update, for listeners older than batches', async () => {
    n++;
    const seen = await tap();
    const p = await open(url('&batch=off'));
    await Promise.all(Array.from({ length: 100 }, (_, i) => p.push(flags(i + 1))));
    await sleep(100);
    assert.equal(seen.length, 100);
    assert.ok(seen.every((m) => (unpackValue(m) as Envelope).v === 1));
    await assert.rejects(openPipe(url('&batch=maybe')), /batch must be on or off/);
  });

  test('hostile batches are rejected and counted; a bad envelope in a batch does not cost the good ones', async () => {
    n++;
    const r = new Recorder();
    const l = await open(url(), 64 * 1024);
    await l.listen(r.handler);
    const good = (seq: number): Buffer => encodeEnvelope(env('rawpeer', seq));
    const subject = `batch${n}.alice.INBOX`;
    const hostile: [string, Buffer][] = [
      ['truncated batch', batchOf([good(1), good(2)]).subarray(0, 150)],
      ['more updates than a batch may hold', batchOf([good(1)], Buffer.from([0xdc, 0xff, 0xff]))],
      ['a 32-bit count', batchOf([good(1)], Buffer.from([0xdd, 0, 0, 0, 1]))],
      ['empty batch', Buffer.from([0x90])],
      ['garbage after the header', Buffer.concat([Buffer.from([0x93]), Buffer.from('not msgpack at all', 'latin1')])],
      ['nested arrays', Buffer.concat([Buffer.alloc(40_000, 0x91), Buffer.from([1])])],
      ['over the listener\'s frame cap', batchOf(Array.from({ length: 1000 }, () => good(1)))],
    ];
    for (const [, bytes] of hostile) raw.publish(subject, bytes);
    await raw.flush();
    await waitFor(() => l.stats().rejected >= hostile.length, `${hostile.length} rejections (${l.stats().rejected})`);
    assert.equal(r.updates.length, 0, 'nothing from the hostile batches reached the handler');
    // One bad envelope between good ones: the good ones arrive, the bad one is counted.
    const before = l.stats().rejected;
    raw.publish(subject, batchOf([good(1), packValue({ v: 1, origin: 'rawpeer', seq: 2, ts: 1, update: { type: 'flags', uid: -1 } }), good(3)]));
    raw.publish(subject, good(2));
    await raw.flush();
    await waitFor(() => r.updates.length === 3, 'the good envelopes');
    assert.deepEqual(new Set(r.updates.map((x) => x.meta.seq)), new Set([1, 2, 3]));
    assert.equal(l.stats().rejected - before, 1);
    // The pipe still serves.
    const p = await open(url());
    await p.push(flags(99));
    await waitFor(() => r.updates.some((x) => x.meta.origin === p.origin), 'a pushed update after the hostile ones');
  });
});
