import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CliProcess, runCli } from '../../src/cli/child.js';
import { openPipe } from '../../src/pipe/open-pipe.js';
import type { UpdatePipe } from '../../src/pipe/update-pipe.js';
import { Relay } from '../../pipes/relay/relay.js';
import { NatsServer, natsSkip } from '../helpers/nats-server.js';
import { flagsUpdate, Recorder } from '../helpers/recorder.js';
import { sleep, waitFor } from '../helpers/wait.js';

let dir = '';
let n = 0;
const sock = (): string => `unix:${path.join(dir, `r${++n}.sock`)}`;
const closers: (() => Promise<void>)[] = [];
const pipe = async (url: string): Promise<UpdatePipe> => {
  const p = await openPipe(url);
  closers.push(() => p.close());
  return p;
};
const relay = async (a: string, b: string, oneWay = false): Promise<Relay> => {
  const r = new Relay(await openPipe(a), await openPipe(b), { oneWay });
  await r.start();
  closers.push(() => r.close());
  return r;
};
const listener = async (url: string): Promise<Recorder> => {
  const r = new Recorder();
  await (await pipe(url)).listen(r.handler);
  return r;
};
/** Message updates received (relays announce their start with a resync, counted apart). */
const edits = (r: Recorder) => r.updates.filter((x) => x.u.type !== 'resync');

/** Every listener got exactly `want` updates, each (origin, seq) once. */
const exactlyOnce = async (rs: Recorder[], want: number): Promise<void> => {
  for (const r of rs) await waitFor(() => edits(r).length >= want, `${want} updates`);
  await sleep(200);
  for (const r of rs) {
    const keys = edits(r).map((x) => `${x.meta.origin}:${x.meta.seq}`);
    assert.equal(keys.length, want, 'no extra copies');
    assert.equal(new Set(keys).size, want, 'each once');
  }
};

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'up-relay-'));
});
after(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

test('both ways between two Unix pipes, keeping origin and seq', async () => {
  const [A, B] = [sock(), sock()];
  const onA = await listener(A);
  const onB = await listener(B);
  await relay(A, B);
  const pa = await pipe(A);
  const pb = await pipe(B);
  for (let i = 1; i <= 50; i++) {
    await pa.push(flagsUpdate(i));
    await pb.push(flagsUpdate(i, 'bob'));
  }
  await exactlyOnce([onA, onB], 100);
  assert.deepEqual(onB.from(pa.origin).map((x) => x.meta.seq), Array.from({ length: 50 }, (_, i) => i + 1), 'origin and order kept across the relay');
});

test('two relays on the same pair: still exactly once', async () => {
  const [A, B] = [sock(), sock()];
  const onA = await listener(A);
  const onB = await listener(B);
  await relay(A, B);
  await relay(A, B);
  const pa = await pipe(A);
  const pb = await pipe(B);
  for (let i = 1; i <= 30; i++) {
    await pa.push(flagsUpdate(i));
    await pb.push(flagsUpdate(i));
  }
  await exactlyOnce([onA, onB], 60);
});

test('a ring of three pipes with relays both ways: exactly once everywhere, nothing loops', async () => {
  const [A, B, C] = [sock(), sock(), sock()];
  const rs = [await listener(A), await listener(B), await listener(C)];
  await relay(A, B);
  await relay(B, C);
  await relay(C, A);
  const pushers = [await pipe(A), await pipe(B), await pipe(C)];
  for (let i = 1; i <= 20; i++) for (const p of pushers) await p.push(flagsUpdate(i));
  await exactlyOnce(rs, 60);
});

test('updatepipe relay CLI: one-way, and a resync when its source side restarts', async () => {
  const [A, B] = [sock(), sock()];
  const onB = await listener(B);
  const r = new CliProcess(['relay', '--from', A, '--to', B, '--one-way']);
  closers.push(async () => void (await r.kill()));
  await r.waitStderr('ready');
  const pushed = await runCli(['push', '--pipe', A, '{"type":"exists","user":"alice","mailbox":"INBOX","uids":"9"}']);
  assert.equal(pushed.code, 0, pushed.stderr);
  await waitFor(() => edits(onB).length === 1, 'relayed update');
  assert.equal((edits(onB)[0]!.u as { uids: string }).uids, '9');
  assert.ok(onB.updates.some((x) => x.u.type === 'resync' && x.u.user === '*'), 'a starting relay tells the other side to re-read');
  const back = await runCli(['push', '--pipe', B, '{"type":"resync","user":"x"}']);
  assert.equal(back.code, 0);
  await sleep(200);
  const onA = await listener(A); // joins A after the relay: B's update must not have come back
  await sleep(100);
  assert.equal(edits(onA).length + onA.updates.filter((x) => x.u.type === 'resync' && x.u.user === 'x').length, 0, 'one-way');
});

describe('relay between Unix and NATS', { skip: natsSkip() }, () => {
  test('--log-json: every log line is JSON, and NATS credentials never appear', async () => {
    const server = await NatsServer.start({ user: 'svc', pass: 's3cret-pass' });
    closers.push(() => server.stop());
    const r = new CliProcess(['relay', '--from', sock(), '--to', `nats://svc:s3cret-pass@${server.hostPort}/logs?mode=core`, '--log-json', '-v']);
    closers.push(async () => void (await r.kill()));
    await r.waitStderr('ready');
    await server.restart(); // disconnect and reconnect events get logged
    await waitFor(() => r.stderr.includes('reconnected'), 'reconnect logged', 15_000);
    await r.kill();
    const lines = r.stderr.split('\n').filter((l) => l !== '' && l !== 'ready');
    assert.ok(lines.length >= 3);
    for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), l);
    assert.doesNotMatch(r.stderr, /s3cret-pass/);
  });

  test('an update pushed on one node\'s socket reaches the other node through NATS, once', async () => {
    const server = await NatsServer.start();
    closers.push(() => server.stop());
    const nats = `nats://${server.hostPort}/relay?mode=core`;
    const [A, B] = [sock(), sock()];
    const onA = await listener(A);
    const onB = await listener(B);
    await relay(A, nats);
    await relay(B, nats);
    const pa = await pipe(A);
    const pb = await pipe(B);
    for (let i = 1; i <= 40; i++) {
      await pa.push(flagsUpdate(i));
      await pb.push(flagsUpdate(i, 'bob'));
    }
    await exactlyOnce([onA, onB], 80);
  });
});

test('relay --metrics: Prometheus counters, latency histogram and /health; stats shows live counters', async () => {
  const [A, B] = [sock(), sock()];
  const onB = await listener(B);
  const r = new CliProcess(['relay', '--from', A, '--to', B, '--metrics', '127.0.0.1:0']);
  closers.push(async () => void (await r.kill()));
  await r.waitStderr('ready');
  const base = /metrics on (http:\/\/\S+)\/metrics/.exec(r.stderr)![1]!;
  const stats = new CliProcess(['stats', '--pipe', B, '--interval', '0.3', '--count', '3', '--json']);
  await stats.waitStderr('ready');
  const pa = await pipe(A);
  for (let i = 1; i <= 25; i++) await pa.push(flagsUpdate(i));
  await waitFor(() => edits(onB).length === 25, 'relayed');
  const text = await (await fetch(`${base}/metrics`)).text();
  assert.match(text, /updatepipe_relay_forwarded_total 25/);
  assert.match(text, /updatepipe_delivered_total\{pipe="from"\} 25/);
  assert.match(text, /updatepipe_relay_resyncs_sent_total 2/, 'the start resync, both ways');
  assert.match(text, /updatepipe_latency_seconds_count 25/);
  assert.match(text, /# TYPE updatepipe_latency_seconds histogram/);
  const health = (await (await fetch(`${base}/health`)).json()) as { status: string };
  assert.equal(health.status, 'ok');
  assert.equal(await stats.exited, 0);
  const rows = stats.lines.map((l) => JSON.parse(l) as { by_type: { flags?: number } });
  assert.equal(rows.reduce((n, x) => n + (x.by_type.flags ?? 0), 0), 25, 'stats saw every update');
});
