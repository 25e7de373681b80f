import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CliProcess, runCli } from '../../src/cli/child.js';
import { decodeEnvelope, encodeCheckedEnvelope } from '../../src/envelope/codec.js';
import { readBatch } from '../../src/hub/batch-frames.js';
import { decodeWelcome, encodeHello, Kind } from '../../src/hub/hub-protocol.js';
import { openPipe } from '../../src/pipe/open-pipe.js';
import type { UpdatePipe } from '../../src/pipe/update-pipe.js';
import type { UidSetText, Update } from '../../src/update/update.js';
import { TokenSet } from '../../pipes/ws/tokens.js';
import { WsHub } from '../../pipes/ws/ws-hub.js';
import { flagsUpdate, Recorder } from '../helpers/recorder.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { RawWs, TOKEN } from '../helpers/ws-harness.js';
import { retainedHeap } from '../helpers/heap.js';

const pipes: UpdatePipe[] = [];
const hubs: WsHub[] = [];
let dir = '';
const open = async (url: string, o: object = {}): Promise<UpdatePipe> => {
  const p = await openPipe(url, { token: TOKEN, heartbeatMs: 2_000, ...o } as never);
  pipes.push(p);
  return p;
};
const startHub = async (port = 0, o: object = {}): Promise<{ hub: WsHub; url: string; port: number }> => {
  const hub = new WsHub('/u', { tokens: new TokenSet([TOKEN, 'rotated-token-abcdefghij']), heartbeatMs: 2_000, ...o });
  hubs.push(hub);
  const p = await hub.listen('127.0.0.1', port);
  return { hub, url: `ws://127.0.0.1:${p}/u`, port: p };
};
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'up-ws-'));
});
after(async () => {
  await Promise.all(pipes.map((p) => p.close().catch(() => {})));
  await Promise.all(hubs.map((h) => h.close().catch(() => {})));
  await rm(dir, { recursive: true, force: true });
});

async function pushMany(p: UpdatePipe, n: number, at?: { i: number; run: () => void }): Promise<void> {
  const window: Promise<void>[] = [];
  for (let i = 1; i <= n; i++) {
    window.push(p.push(flagsUpdate(i)));
    if (window.length >= 500) await Promise.all(window.splice(0));
    if (at && i === at.i) at.run();
  }
  await Promise.all(window);
}

test('the hub drops every connection mid-stream of 10,000: each client ends with exactly 10,000, once, in order', async () => {
  const { hub, url } = await startHub();
  const l = await open(url);
  const r = new Recorder();
  await l.listen(r.handler);
  const p = await open(url);
  // Dropped right after the hub relayed one update: its frame to the listener is still
  // held for the end of the tick and dies with the socket, and pushes are in flight.
  const relay = hub as unknown as { fanOut(frames: Buffer, count: number, from: unknown, message: Buffer | null): void };
  const fanOut = relay.fanOut.bind(hub);
  let relayed = 0;
  relay.fanOut = (frames, count, from, message) => {
    fanOut(frames, count, from, message);
    if (relayed < 4321 && (relayed += count) >= 4321) hub.dropClients();
  };
  await pushMany(p, 10_000);
  await waitFor(() => r.updates.length >= 10_000, '10,000 updates', 30_000);
  await sleep(200);
  assert.deepEqual(r.updates.map((x) => x.meta.seq), Array.from({ length: 10_000 }, (_, i) => i + 1));
  assert.equal(r.resyncs.length, 0, 'the ring covered the drop: no resync needed');
  assert.ok(hub.counters.replayed >= 1, `the listener was replayed what it missed (${hub.counters.replayed} frames)`);
});

test('a restarted hub: clients reconnect, get a resync (the ring is gone), and no duplicates', async () => {
  const first = await startHub();
  const l = await open(first.url);
  const r = new Recorder();
  await l.listen(r.handler);
  const p = await open(first.url);
  for (let i = 1; i <= 100; i++) await p.push(flagsUpdate(i));
  await waitFor(() => r.updates.length === 100, 'first 100');
  await first.hub.close();
  await startHub(first.port);
  await waitFor(() => r.resyncs.length >= 1, 'resync after the hub came back', 20_000);
  for (let i = 101; i <= 200; i++) await p.push(flagsUpdate(i));
  await waitFor(() => r.updates.length >= 200, 'next 100', 20_000);
  await sleep(200);
  const seqs = r.updates.map((x) => x.meta.seq);
  assert.equal(new Set(seqs).size, seqs.length, 'no duplicates');
  assert.equal(r.resyncs[0]!.meta.reason, 'reconnect');
});

test('a client that stops reading is cut off; hub memory stays bounded; others are unaffected; it comes back to a resync', async () => {
  const logs: string[] = [];
  const { hub, url } = await startHub(0, { maxClientBuffer: 256 * 1024, ringFrames: 5000, heartbeatMs: 5_000, log: (l: string) => logs.push(l) });
  const good = await open(url, { heartbeatMs: 5_000 });
  const rg = new Recorder();
  await good.listen(rg.handler);
  const slow = await RawWs.open(url);
  slow.hello(true, 'slow');
  await waitFor(() => slow.count(Kind.Welcome) === 1, 'welcome');
  const welcome = decodeWelcome(slow.messages[0]!.subarray(1));
  (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  const p = await open(url);
  let peak = 0;
  const N = 8_000;
  // ~1 KB updates, so the stall outgrows the kernel's socket buffers quickly.
  const big = (i: number): Update => ({ type: 'expunge', user: 'alice', mailbox: 'INBOX', uids: Array.from({ length: 200 }, (_, k) => i * 1000 + k * 2 + 1).join(',') as UidSetText });
  const window: Promise<void>[] = [];
  for (let i = 1; i <= N; i++) {
    window.push(p.push(big(i)));
    if (window.length >= 500) {
      await Promise.all(window.splice(0));
      peak = Math.max(peak, hub.bufferedBytes);
    }
  }
  await Promise.all(window);
  await waitFor(() => rg.updates.length === N, `the good client got everything (has ${rg.updates.length}, counters ${JSON.stringify(hub.counters)})`, 30_000);
  assert.ok(hub.counters.cut >= 1, 'the stalled client was cut (a busy good one may be too: it resumes from the ring)');
  // Cut at the hard limit, or (flow control holding the pushers) for taking nothing.
  assert.ok(logs.some((l) => /^client slow (fell \d+ bytes behind|took nothing for \d+ ms with \d+ bytes queued); cut off/.test(l)), `the stalled one is among them: ${logs.join('; ')}`);
  assert.ok(peak < 2 * 1024 * 1024, `hub buffers stayed bounded (peak ${peak} bytes)`);
  assert.equal(rg.resyncs.length, 0);
  // It comes back where it stopped, but the ring has moved on: resync.
  const back = await RawWs.open(url);
  back.ws.send(Buffer.concat([Buffer.from([Kind.Hello]), (await import('../../src/envelope/codec.js')).packValue({ v: 1, origin: 'slow', listen: true, epoch: welcome.epoch, last: welcome.first })]));
  await waitFor(() => back.count(Kind.Welcome) === 1, 'welcome again');
  assert.equal(decodeWelcome(back.messages[0]!.subarray(1)).resync, true);
  await back.close();
  slow.ws.terminate();
});

test('auth: no token, wrong token, token in the query string are refused before any WebSocket; rotation works', async () => {
  const { url } = await startHub();
  await assert.rejects(RawWs.open(url, null), /HTTP 401/);
  await assert.rejects(RawWs.open(url, 'wrong-token-0123456789'), /HTTP 401/);
  await assert.rejects(RawWs.open(`${url}?token=${TOKEN}`), /HTTP 400/);
  await assert.rejects(RawWs.open(url.replace('/u', '/other')), /HTTP 404/);
  const rotated = await RawWs.open(url, 'rotated-token-abcdefghij');
  await rotated.close();
  const cli = await runCli(['push', '--pipe', url, '{"type":"resync","user":"a"}'], { env: { ...process.env, UPDATEPIPE_TOKEN: 'wrong-token-0123456789' } });
  assert.equal(cli.code, 5, cli.stderr);
  assert.doesNotMatch(cli.stderr, /wrong-token/, 'the token is never printed');
  const inUrl = await runCli(['push', '--pipe', `${url}?token=x`, '{"type":"resync","user":"a"}']);
  assert.equal(inUrl.code, 2);
  const down = await runCli(['push', '--pipe', 'ws://127.0.0.1:1/u', '{"type":"resync","user":"a"}'], { env: { ...process.env, UPDATEPIPE_TOKEN: TOKEN } });
  assert.equal(down.code, 4, down.stderr);
});

test('1,000 connections opened and dropped: the hub keeps serving with bounded memory', async () => {
  const { hub, url } = await startHub();
  const l = await open(url);
  const r = new Recorder();
  await l.listen(r.handler);
  const before = retainedHeap();
  for (let round = 0; round < 10; round++) {
    await Promise.all(
      Array.from({ length: 100 }, async (_, k) => {
        try {
          const c = await RawWs.open(url, k % 3 === 0 ? null : TOKEN);
          if (k % 2 === 0) c.hello(false, `burst${k}`);
          c.ws.terminate();
        } catch {
          /* refused: fine */
        }
      }),
    );
  }
  await waitFor(() => hub.clientCount === 1, 'only the real client left');
  const p = await open(url);
  await p.push(flagsUpdate(1));
  await waitFor(() => r.updates.length === 1, 'still serving');
  const growth = retainedHeap() - before;
  // Measured after a full GC: garbage from 1,000 short-lived sockets is not retention.
  assert.ok(growth < 20 * 1024 * 1024, `no large retained growth (${(growth / 1048576).toFixed(1)} MiB)`);
});

test('wss:// with a private CA, via the CLI: hub, listen and push', async () => {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const tokenFile = path.join(dir, 'tokens');
  await writeFile(tokenFile, `# rotate by adding a line\n${TOKEN}\n`, { mode: 0o600 });
  const hub = new CliProcess(['hub', '--listen', 'wss://127.0.0.1:0/u', '--token-file', tokenFile, '--cert', cert, '--key', key]);
  try {
    await hub.waitStderr('ready');
    const url = /(wss:\/\/\S+)/.exec(hub.stderr)![1]!;
    const env = { ...process.env, UPDATEPIPE_CA_FILE: cert };
    const l = new CliProcess(['listen', '--pipe', url, '--token-file', tokenFile, '--json'], env);
    await l.waitStderr('ready');
    const r = await runCli(['push', '--pipe', url, '--token-file', tokenFile, '{"type":"expunge","user":"alice","mailbox":"INBOX","uids":"7"}'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(await l.waitLine((x) => x.includes('expunge'))).uids, '7');
    await l.kill();
    assert.doesNotMatch(hub.stderr + (await readFile(tokenFile, 'utf8')).slice(0, 0), new RegExp(TOKEN), 'the token is not logged');
  } finally {
    await hub.kill();
  }
  const noAuth = await runCli(['hub', '--listen', 'ws://127.0.0.1:0/u'], { env: { ...process.env, UPDATEPIPE_TOKEN: '' } });
  assert.equal(noAuth.code, 2, 'a hub without tokens needs --insecure-no-auth');
  assert.match(noAuth.stderr, /--insecure-no-auth/);
});

test('heartbeats: a peer that stops answering pings is terminated', async () => {
  const { hub, url } = await startHub(0, { heartbeatMs: 200 });
  const mute = await RawWs.open(url);
  mute.hello(true, 'mute');
  await waitFor(() => hub.clientCount === 1, 'connected');
  (mute.ws as unknown as { _socket: { pause(): void } })._socket.pause(); // no pongs from now on
  await waitFor(() => hub.clientCount === 0, 'the mute peer terminated', 5_000);
  mute.ws.terminate();
});

test('the hub drops only clients that never say HELLO', async () => {
  const { hub, url } = await startHub(0, { helloTimeoutMs: 150 });
  const l = await open(url);
  const r = new Recorder();
  await l.listen(r.handler);
  const silent = await RawWs.open(url);
  await sleep(500);
  assert.equal(hub.counters.rejected, 1);
  assert.equal(silent.closed, true);
  const p = await open(url);
  await p.push(flagsUpdate(1));
  await waitFor(() => r.updates.length === 1, 'the listener is still connected');
  assert.equal(hub.clientCount, 2);
});

test('clients past the hub cap get HTTP 503 before any WebSocket; the hub keeps serving', async () => {
  const { url } = await startHub(0, { maxClients: 2 });
  const a = await RawWs.open(url);
  const b = await RawWs.open(url);
  await assert.rejects(RawWs.open(url), /HTTP 503/);
  a.ws.terminate();
  await sleep(100);
  const c = await RawWs.open(url);
  await b.close();
  await c.close();
});

test('a peer dripping tiny fragments is cut off; the hub keeps serving others', async () => {
  const { hub, url } = await startHub();
  const l = await open(url);
  const r = new Recorder();
  await l.listen(r.handler);
  const bad = await RawWs.open(url);
  bad.hello(false, 'dripper');
  await sleep(50);
  for (let i = 0; i < 500 && !bad.closed; i++) bad.ws.send(Buffer.alloc(1), { fin: false, binary: true });
  await waitFor(() => bad.closed, 'the dripping peer is disconnected');
  const p = await open(url);
  await p.push(flagsUpdate(1));
  await waitFor(() => r.updates.length === 1, 'others unaffected');
  assert.ok(hub.clientCount >= 2);
});

/** The updates in what a raw client got, in order: plain UPDATEs and the frames of BATCHes. */
function seqsOf(messages: Buffer[]): number[] {
  const seqs: number[] = [];
  for (const m of messages) {
    if (m[0] === Kind.Update) seqs.push(decodeEnvelope(m.subarray(1)).seq);
    if (m[0] === Kind.Batch) readBatch(m, 1, (s, e) => seqs.push(decodeEnvelope(m.subarray(s + 5, e)).seq));
  }
  return seqs;
}

test('BATCH only to a client that asked for it: an older client gets plain UPDATEs, a batching one BATCHes within its limit', async () => {
  const { hub, url } = await startHub();
  const old = await RawWs.open(url);
  old.hello(true, 'old-client');
  const small = await RawWs.open(url);
  small.hello(true, 'batching-client', 2048);
  await waitFor(() => old.count(Kind.Welcome) === 1 && small.count(Kind.Welcome) === 1, 'both welcomed');
  // The WELCOME tells clients the hub reads BATCHes, up to its own message cap.
  assert.equal(decodeWelcome(small.messages[0]!.subarray(1)).batch, 1024 * 1024);
  const p = await open(url);
  await Promise.all(Array.from({ length: 1000 }, (_, i) => p.push(flagsUpdate(i + 1))));
  const all = Array.from({ length: 1000 }, (_, i) => i + 1);
  await waitFor(() => seqsOf(old.messages).length === 1000 && seqsOf(small.messages).length === 1000, 'both have every update');
  assert.deepEqual(seqsOf(old.messages), all);
  assert.deepEqual(seqsOf(small.messages), all);
  assert.equal(old.count(Kind.Batch), 0, 'no BATCH to a client that did not ask');
  assert.equal(old.count(Kind.Update), 1000);
  const batches = small.messages.filter((m) => m[0] === Kind.Batch);
  assert.ok(batches.length >= 40 && batches.length < 1000, `the pusher's burst arrived in ${batches.length} BATCHes`);
  assert.ok(batches.every((m) => m.length <= 2048), 'each within the 2048 bytes the client allowed');
  assert.equal(hub.counters.relayed, 1000);
});

test('a good message goes to each listener that reads one of its size as it came; others get it repacked; one behind frames still queued for a listener waits its turn', async () => {
  const { url } = await startHub();
  const big = await RawWs.open(url);
  big.hello(true, 'big-reader', 1 << 20);
  const small = await RawWs.open(url);
  small.hello(true, 'small-reader', 300);
  const old = await RawWs.open(url);
  old.hello(true, 'old-client');
  const pusher = await RawWs.open(url);
  pusher.hello(false, 'raw-pusher', 1 << 20);
  await waitFor(() => [big, small, old, pusher].every((c) => c.count(Kind.Welcome) === 1), 'all welcomed');
  const frame = (seq: number): Buffer => encodeCheckedEnvelope({ v: 1, origin: 'raw-pusher', seq, ts: 1, update: flagsUpdate(seq) }, Kind.Update);
  const batch = Buffer.concat([Buffer.from([Kind.Batch]), ...Array.from({ length: 10 }, (_, i) => frame(i + 1))]);
  const single = frame(11).subarray(4); // a plain UPDATE: kind, body
  // One write, so that the hub reads both in one turn (see the end).
  const socket = (pusher.ws as unknown as { _socket: import('node:net').Socket })._socket;
  socket.cork();
  pusher.ws.send(batch);
  pusher.ws.send(single);
  socket.uncork();
  const want = Array.from({ length: 11 }, (_, i) => i + 1);
  await waitFor(() => [big, small, old].every((c) => seqsOf(c.messages).length === 11), 'every listener has all 11');
  for (const c of [big, small, old]) assert.deepEqual(seqsOf(c.messages), want);
  const relayed = (c: RawWs): Buffer[] => c.messages.filter((m) => m[0] === Kind.Batch || m[0] === Kind.Update);
  assert.deepEqual(relayed(big), [batch, single], 'the BATCH and the UPDATE byte for byte as they were sent');
  assert.ok(relayed(small).length > 2 && relayed(small).every((m) => m.length <= 300), 'repacked within the 300 bytes it reads');
  assert.equal(old.count(Kind.Batch), 0, 'one plain UPDATE per frame to a client that reads no BATCH');
  // small's 10 were still queued (repacked at the end of the turn) when the UPDATE came in
  // the same read: it went behind them, as its seqs above show (an UPDATE sent around the
  // queue arrives first: the test fails without the hub's check).
});

test('hostile BATCHes: the frames before the bad one are relayed, the sender is dropped with a NOTICE, the hub keeps serving', async () => {
  const { hub, url } = await startHub();
  const l = await open(url);
  const r = new Recorder();
  await l.listen(r.handler);
  const frame = (seq: number, origin = 'batcher'): Buffer => encodeCheckedEnvelope({ v: 1, origin, seq, ts: Date.now(), update: flagsUpdate(seq) }, Kind.Update);
  const batch = (...parts: Buffer[]): Buffer => Buffer.concat([Buffer.from([Kind.Batch]), ...parts]);
  const badEnvelope = Buffer.concat([Buffer.from([0, 0, 0, 2, Kind.Update]), Buffer.from([0xc1])]);
  const cases: [string, Buffer, number][] = [
    ['an empty BATCH', batch(), 0],
    ['a frame cut short', batch(frame(1, 'a'), frame(2, 'a').subarray(0, 20)), 1],
    ['a zero-length frame', batch(frame(1, 'b'), Buffer.from([0, 0, 0, 0, 3])), 1],
    ['a HELLO inside', batch(frame(1, 'c'), frame(2, 'c'), encodeHello({ v: 1, origin: 'x', listen: true })), 2],
    ['undecodable msgpack inside', batch(frame(1, 'd'), badEnvelope), 1],
    ['a wrong envelope version inside', batch(encodeCheckedEnvelope({ v: 2, origin: 'e', seq: 1, ts: 1, update: flagsUpdate(1) } as never, Kind.Update)), 0],
  ];
  let relayed = 0;
  for (const [what, msg, good] of cases) {
    const c = await RawWs.open(url);
    c.hello(false, 'hostile');
    c.ws.send(msg);
    await waitFor(() => c.closed, `${what}: the sender is dropped`);
    assert.equal(c.count(Kind.Notice), 1, `${what}: told why`);
    relayed += good;
    await waitFor(() => r.updates.length === relayed, `${what}: the ${good} good frames before the bad one reached the listener`);
  }
  const early = await RawWs.open(url);
  early.ws.send(batch(frame(1, 'f')));
  await waitFor(() => early.closed, 'a BATCH before HELLO is refused');
  assert.equal(hub.counters.rejected, cases.length + 1);
  const p = await open(url);
  await p.push(flagsUpdate(1));
  await waitFor(() => r.updates.length === relayed + 1, 'the hub keeps serving');
  assert.equal(r.resyncs.length, 0);
});
