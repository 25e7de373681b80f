/**
 * NATS throughput in one run, side by side: raw nats.js publish/subscribe of plain msgpack
 * envelopes vs the core pipe (validation, envelope, dedup), and JetStream pipe pushes
 * (each confirmed by a PubAck). Usage: node dist/test/bench/nats-throughput.js [n=100000]
 */
import { connect } from '@nats-io/transport-node';
import { encodeEnvelope } from '../../src/envelope/codec.js';
import { openPipe } from '../../src/pipe/open-pipe.js';
import type { Update } from '../../src/update/update.js';
import { NatsServer } from '../helpers/nats-server.js';

const N = Number(process.argv[2] ?? 100_000);
const update = (i: number): Update => ({ type: 'flags', user: 'alice@example.org', mailbox: 'INBOX', uid: (i % 100_000) + 1, flags: ['\\Seen', '\\Flagged'] });
const rate = (n: number, ms: number): number => Math.round((n / ms) * 1000);

const server = await NatsServer.start({ jetstream: true });
const results: Record<string, number> = {};
try {
  // Raw baseline: one publish per update, plain msgpack, no validation or dedup.
  {
    const pub = await connect({ servers: server.hostPort });
    const sub = await connect({ servers: server.hostPort });
    let got = 0;
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    sub.subscribe('raw.>', { callback: () => void (++got === N && done()) });
    await sub.flush();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) pub.publish('raw.alice.INBOX', encodeEnvelope({ v: 1, origin: 'raw', seq: i + 1, ts: Date.now(), update: update(i) }));
    await pub.flush();
    await all;
    results['raw nats.js pub/sub'] = rate(N, performance.now() - t0);
    await pub.close();
    await sub.close();
  }
  // The core pipe, push → listener handler.
  {
    const url = `nats://${server.hostPort}/bench?mode=core`;
    const listener = await openPipe(url);
    let got = 0;
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    await listener.listen(() => void (++got === N && done()));
    const pusher = await openPipe(url);
    await pusher.initPush();
    const t0 = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < N; i++) pending.push(pusher.push(update(i)));
    await Promise.all(pending);
    await all;
    results['pipe nats core (push → handler)'] = rate(N, performance.now() - t0);
    await pusher.close();
    await listener.close();
  }
  // JetStream pushes, each resolved by its PubAck (async publish, 1,000 in flight).
  {
    const pusher = await openPipe(`nats://${server.hostPort}/benchjs?mode=jetstream`);
    await pusher.initPush();
    const t0 = performance.now();
    let window: Promise<void>[] = [];
    for (let i = 0; i < N; i++) {
      window.push(pusher.push(update(i)));
      if (window.length >= 1000) {
        await Promise.all(window);
        window = [];
      }
    }
    await Promise.all(window);
    results['pipe nats jetstream (push → PubAck)'] = rate(N, performance.now() - t0);
    await pusher.close();
  }
} finally {
  await server.stop();
}
for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(40)} ${String(v).padStart(8)} updates/s`);
console.log(`core pipe / raw: ${(results['pipe nats core (push → handler)']! / results['raw nats.js pub/sub']!).toFixed(2)}`);
