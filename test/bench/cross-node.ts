/**
 * Cross-node latency: `updatepipe mail add` on node A → imapflow `exists` on node B, each
 * node with its own Unix pipe and a relay into NATS (JetStream, one server).
 * Usage: node dist/test/bench/cross-node.js [runs=20] [core|jetstream]
 */
import path from 'node:path';
import { ImapFixture, message } from '../helpers/imap-fixture.js';
import { NatsServer } from '../helpers/nats-server.js';

const runs = Number(process.argv[2] ?? 20);
const mode = process.argv[3] === 'core' ? 'core' : 'jetstream';
const fx = new ImapFixture();
await fx.setup();
const nats = await NatsServer.start({ jetstream: true });
const bus = `nats://${nats.hostPort}/mail?mode=${mode}`;
const pipeA = `unix:${path.join(fx.dir, 'a.sock')}`;
const pipeB = `unix:${path.join(fx.dir, 'b.sock')}`;
await fx.server(pipeA);
const portB = await fx.server(pipeB);
await fx.process(['relay', '--from', pipeA, '--to', `${bus}${mode === 'jetstream' ? '&durable=a' : ''}`]);
await fx.process(['relay', '--from', pipeB, '--to', `${bus}${mode === 'jetstream' ? '&durable=b' : ''}`]);
const c = await fx.client(portB);
await new Promise((r) => setTimeout(r, 300));
const samples: number[] = [];
for (let i = 0; i < runs; i++) {
  const before = c.events.length;
  const t0 = performance.now();
  const r = await fx.mailWithInputVia(pipeA, message(`x${i}`), 'add', '--user', 'alice', '-');
  if (r.code !== 0) throw new Error(r.stderr);
  while (c.events.length === before) await new Promise((res) => setTimeout(res, 1));
  samples.push(performance.now() - t0);
  await new Promise((res) => setTimeout(res, 50));
}
await fx.teardown();
await nats.stop();
samples.sort((a, b) => a - b);
const q = (p: number): number => +samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!.toFixed(1);
console.log(JSON.stringify({ scenario: `mail add on node A -> IDLE exists on node B (relays, NATS ${mode})`, runs, unit: 'ms', median: q(0.5), p10: q(0.1), p90: q(0.9) }));
