/**
 * Offline `updatepipe mail add` → imapflow IDLE `exists` event, through serve-imap on the
 * Unix pipe: the latency an admin's edit takes to reach a user's mail client.
 * Usage: node dist/test/bench/edit-to-idle.js [runs=20]
 */
import { ImapFixture, message } from '../helpers/imap-fixture.js';

const runs = Number(process.argv[2] ?? 20);
const fx = new ImapFixture();
await fx.setup();
const port = await fx.server();
const c = await fx.client(port);
await new Promise((r) => setTimeout(r, 200));
const samples: number[] = [];
for (let i = 0; i < runs; i++) {
  const before = c.events.length;
  const t0 = performance.now();
  const r = await fx.mailWithInput(message(`m${i}`), 'add', '--user', 'alice', '-');
  if (r.code !== 0) throw new Error(r.stderr);
  while (c.events.length === before) await new Promise((res) => setTimeout(res, 1));
  samples.push(performance.now() - t0);
  await new Promise((res) => setTimeout(res, 50));
}
await fx.teardown();
samples.sort((a, b) => a - b);
const q = (p: number): number => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!;
console.log(JSON.stringify({ scenario: 'mail add -> IDLE exists', runs, unit: 'ms', median: +q(0.5).toFixed(1), p10: +q(0.1).toFixed(1), p90: +q(0.9).toFixed(1), min: +samples[0]!.toFixed(1), max: +samples[samples.length - 1]!.toFixed(1) }));
