import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CLI_PATH, CliProcess } from '../../src/cli/child.js';
import { isPipeError } from '../../src/errors.js';
import { UnixPipe } from '../../pipes/unix/unix-pipe.js';
import { decodeEnvelope, encodeEnvelope } from '../../src/envelope/codec.js';
import type { Envelope } from '../../src/envelope/envelope.js';
import { encodeFrame } from '../../src/envelope/frame.js';
import { decodeWelcome, Kind } from '../../src/hub/hub-protocol.js';
import { flagsUpdate, Recorder } from '../helpers/recorder.js';
import { RawUnixClient } from '../helpers/unix-raw.js';
import { sleep, waitFor } from '../helpers/wait.js';

let dir = '';
let n = 0;
const sock = (): string => path.join(dir, `s${++n}.sock`);
const pipes: UnixPipe[] = [];
const pipe = (file: string, o = {}): UnixPipe => {
  const p = new UnixPipe(`unix:${file}`, o);
  pipes.push(p);
  return p;
};

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'up-unix-'));
});
after(async () => {
  await Promise.all(pipes.map((p) => p.close().catch(() => {})));
  await rm(dir, { recursive: true, force: true });
});

test('the socket is created with mode 0660 by the first listener', async () => {
  const file = sock();
  const a = pipe(file);
  await a.listen(() => {});
  assert.equal(a.isOwner, true);
  assert.equal((await stat(file)).mode & 0o777, 0o660);
  assert.ok((await stat(file)).isSocket());
  assert.equal((await stat(file)).uid, process.getuid?.(), 'owned by the user that runs the listener');
  await a.close();
  await assert.rejects(stat(file), /ENOENT/, 'owner removes its socket on close');
});

test('graceful owner close: another listener takes over and pushes keep flowing', async () => {
  const file = sock();
  const a = pipe(file);
  const b = pipe(file);
  const rb = new Recorder();
  await a.listen(() => {});
  await b.listen(rb.handler);
  const c = pipe(file);
  await c.push(flagsUpdate(1));
  await waitFor(() => rb.updates.length === 1, 'first update');
  await a.close();
  await waitFor(() => b.isOwner, 'b to own the socket');
  await c.push(flagsUpdate(2));
  await waitFor(() => rb.updates.length === 2, 'update after takeover');
  assert.deepEqual(rb.updates.map((r) => r.meta.seq), [1, 2]);
  assert.equal(rb.resyncs.length, 1, 'owner change is announced as one resync');
});

test('SIGKILLed owner: its stale socket is replaced and nothing a pusher was promised is lost', async () => {
  const file = sock();
  const owner = new CliProcess(['listen', '--pipe', `unix:${file}`, '--json']);
  await owner.waitStderr('ready');
  const b = pipe(file);
  const rb = new Recorder();
  await b.listen(rb.handler);
  assert.equal(b.isOwner, false);
  const c = pipe(file);
  const N = 3000;
  const pushes: Promise<void>[] = [];
  for (let i = 1; i <= N; i++) {
    pushes.push(c.push(flagsUpdate(i)));
    if (i === 1000) {
      await pushes[pushes.length - 1];
      owner.child.kill('SIGKILL');
    }
  }
  await Promise.all(pushes);
  await waitFor(() => b.isOwner, 'survivor to take over');
  await waitFor(() => rb.updates.length >= N, `all ${N} updates`, 15_000).catch(() => {});
  const seqs = rb.updates.map((r) => r.meta.seq);
  assert.equal(new Set(seqs).size, seqs.length, 'no duplicates reached the handler');
  assert.deepEqual(seqs, Array.from({ length: N }, (_, i) => i + 1), 'every accepted push arrived, in order');
  assert.ok(rb.resyncs.length >= 1, 'owner loss produced a resync');
});

test('a stale socket file with no listener alive: pushers get NO_LISTENER, a new listener replaces it', async () => {
  const file = sock();
  const owner = new CliProcess(['listen', '--pipe', `unix:${file}`]);
  await owner.waitStderr('ready');
  await owner.kill('SIGKILL');
  assert.ok((await stat(file)).isSocket(), 'SIGKILL left the socket file behind');
  const p = pipe(file);
  await assert.rejects(p.push(flagsUpdate(1)), (e: unknown) => isPipeError(e, 'NO_LISTENER'));
  const l = pipe(file);
  const r = new Recorder();
  await l.listen(r.handler);
  assert.equal(l.isOwner, true);
  const q = pipe(file);
  await q.push(flagsUpdate(1));
  await waitFor(() => r.updates.length === 1, 'update through the replaced socket');
});

test('push with nobody listening fails with NO_LISTENER', async () => {
  const p = pipe(sock());
  const t = Date.now();
  await assert.rejects(p.initPush(), (e: unknown) => isPipeError(e, 'NO_LISTENER'));
  assert.ok(Date.now() - t < 5000);
});

test('unsafe socket paths are refused with a clear USAGE error', async () => {
  assert.throws(() => new UnixPipe('unix:relative/x.sock'), /absolute/);
  assert.throws(() => new UnixPipe('unix:'), /no socket path/);
  assert.throws(() => new UnixPipe(`unix:/${'x'.repeat(120)}`), /107 bytes/);

  const regular = path.join(dir, 'regular-file');
  await writeFile(regular, 'not a socket');
  await assert.rejects(pipe(regular).listen(() => {}), /not a socket/);

  const open = path.join(dir, 'open');
  await mkdir(open);
  await chmod(open, 0o777);
  await assert.rejects(pipe(path.join(open, 'x.sock')).listen(() => {}), /world-writable/);

  const link = path.join(dir, 'link');
  await mkdir(path.join(dir, 'real'));
  await symlink(path.join(dir, 'real'), link);
  await assert.rejects(pipe(path.join(link, 'x.sock')).listen(() => {}), /symbolic link/);

  // A symlink planted at the socket path, even one leading to a live socket.
  const real = sock();
  const owner = pipe(real);
  await owner.listen(() => {});
  const planted = path.join(dir, 'planted.sock');
  await symlink(real, planted);
  await assert.rejects(pipe(planted).listen(() => {}), (e: unknown) => isPipeError(e, 'USAGE') && /symbolic link/.test((e as Error).message));
  await assert.rejects(pipe(planted).initPush(), (e: unknown) => isPipeError(e, 'USAGE') && /symbolic link/.test((e as Error).message));
});

test('a socket in a directory this user cannot write: clear error, exit code 2', async () => {
  const locked = path.join(dir, 'locked');
  await mkdir(locked, { mode: 0o755 });
  await chmod(dir, 0o755);
  const target = `unix:${path.join(locked, 'x.sock')}`;
  if (process.getuid?.() !== 0) {
    await chmod(locked, 0o555);
    const child = new CliProcess(['listen', '--pipe', target]);
    assert.equal(await child.exited, 2, child.stderr);
    assert.match(child.stderr, /permission denied/);
    return;
  }
  // Root can write anywhere: run the CLI as nobody to meet a real permission wall. The node
  // binary under test may sit in root's npx cache; fall back to the system one for this check.
  const { spawn, spawnSync } = await import('node:child_process');
  const nobody = { uid: 65534, gid: 65534 };
  const node = spawnSync(process.execPath, ['-e', '0'], nobody).status === 0 ? process.execPath : '/usr/bin/node';
  const res = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const c = spawn(node, [CLI_PATH, 'listen', '--pipe', target], nobody);
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d));
    c.on('error', (e) => resolve({ code: -1, err: String(e) }));
    c.on('close', (code) => resolve({ code, err }));
  });
  assert.equal(res.code, 2, res.err);
  assert.match(res.err, /cannot create a socket in .*locked: permission denied/);
});

test('a listener that reconnects is replayed exactly what it missed, or told to resync', async () => {
  const file = sock();
  const owner = pipe(file);
  await owner.listen(() => {});
  const raw = await RawUnixClient.connect(file);
  raw.hello({ origin: 'raw-listener', listen: true });
  await waitFor(() => raw.count(Kind.Welcome) === 1, 'welcome');
  const welcome = decodeWelcome(raw.frames[0]!.body);
  assert.equal(welcome.resync, false);
  for (let i = 1; i <= 10; i++) await owner.push(flagsUpdate(i));
  await waitFor(() => raw.count(Kind.Update) === 10, '10 updates');
  await raw.end();
  const lastSeen = welcome.first + 4; // pretend only 5 of the 10 were processed
  for (let i = 11; i <= 15; i++) await owner.push(flagsUpdate(i));

  const back = await RawUnixClient.connect(file);
  back.hello({ origin: 'raw-listener', listen: true, epoch: welcome.epoch, last: lastSeen });
  await waitFor(() => back.count(Kind.Update) === 10, 'replayed 10 frames (6..15)');
  assert.equal(decodeWelcome(back.frames[0]!.body).resync, false);
  await back.end();

  const otherEpoch = await RawUnixClient.connect(file);
  otherEpoch.hello({ origin: 'raw-listener', listen: true, epoch: 'gone-owner', last: 3 });
  await waitFor(() => otherEpoch.count(Kind.Welcome) === 1, 'welcome');
  assert.equal(decodeWelcome(otherEpoch.frames[0]!.body).resync, true, 'a previous owner\'s stream cannot be replayed');
  await otherEpoch.end();
});

test('an owner that is the only listener numbers updates without keeping them until a listener joins', async () => {
  const file = sock();
  const owner = pipe(file);
  const got = new Recorder();
  await owner.listen(got.handler);
  const q = pipe(file);
  // A pusher learns the epoch from its WELCOME, but nobody has listened yet.
  const pusher = await RawUnixClient.connect(file);
  pusher.hello({ origin: 'raw-pusher', listen: false });
  await waitFor(() => pusher.count(Kind.Welcome) === 1, 'welcome');
  const early = decodeWelcome(pusher.frames[0]!.body);
  for (let i = 1; i <= 5; i++) await q.push(flagsUpdate(i));
  // Presenting that epoch and a position inside those five: they were not kept, so resync.
  const asker = await RawUnixClient.connect(file);
  asker.hello({ origin: 'raw-asker', listen: true, epoch: early.epoch, last: early.first + 1 });
  await waitFor(() => asker.count(Kind.Welcome) === 1, 'welcome');
  const asked = decodeWelcome(asker.frames[0]!.body);
  assert.equal(asked.resync, true, 'updates nobody kept are never replayed as if complete');
  assert.equal(asked.first, early.first + 5, 'numbering went on through the five');
  assert.equal(asker.count(Kind.Update), 0);
  // A listener has been welcomed: from now on the owner keeps frames, and one that
  // reconnects is replayed exactly what it missed.
  for (let i = 6; i <= 10; i++) await q.push(flagsUpdate(i));
  await waitFor(() => asker.count(Kind.Update) === 5, '5 live updates');
  await asker.end();
  for (let i = 11; i <= 12; i++) await q.push(flagsUpdate(i));
  const back = await RawUnixClient.connect(file);
  back.hello({ origin: 'raw-asker', listen: true, epoch: asked.epoch, last: asked.first + 2 });
  await waitFor(() => back.count(Kind.Update) === 4, 'replayed 9..12');
  assert.equal(decodeWelcome(back.frames[0]!.body).resync, false);
  const replayed = back.frames.filter((f) => f.kind === Kind.Update).map((f) => (decodeEnvelope(f.body).update as { uid: number }).uid);
  assert.deepEqual(replayed, [9, 10, 11, 12]);
  await back.end();
  await pusher.end();
  await waitFor(() => got.updates.length === 12, "the owner's own handler had every update meanwhile");
});

test('a pipe that pushed first and then listens starts at the live end: no resync, nothing replayed', async () => {
  const file = sock();
  const owner = pipe(file);
  await owner.listen(() => {});
  const p = pipe(file);
  for (let i = 1; i <= 3; i++) await p.push(flagsUpdate(i)); // numbered, not kept: no listener yet
  const r = new Recorder();
  await p.listen(r.handler); // reconnects as a listener; its HELLO presents no position
  const q = pipe(file);
  await q.push(flagsUpdate(4));
  await waitFor(() => r.updates.length === 1, 'the update pushed after it joined');
  assert.deepEqual(r.updates.map((x) => (x.u as { uid: number }).uid), [4]);
  await sleep(50);
  assert.equal(r.resyncs.length, 0, 'joining as a listener is not a reconnect');
  await Promise.all([p.close(), q.close()]);
});

test("the owner relays a read to the other listeners before its own handler runs on it", async () => {
  const file = sock();
  // Writes of UPDATE frames on the owner's accepted connections: its relays.
  let relayed = 0;
  const write = net.Socket.prototype.write;
  net.Socket.prototype.write = function (this: net.Socket & { server?: unknown }, chunk: unknown, ...rest: unknown[]) {
    if (this.server && Buffer.isBuffer(chunk) && chunk.length > 4 && chunk[4] === Kind.Update) relayed++;
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof write;
  try {
    const owner = pipe(file);
    const seenAtFirst: number[] = [];
    const got = new Recorder();
    await owner.listen((u, meta) => {
      if (got.got.length === 0) seenAtFirst.push(relayed);
      got.handler(u, meta);
    });
    const other = await RawUnixClient.connect(file);
    other.hello({ origin: 'raw-other', listen: true });
    await waitFor(() => other.count(Kind.Welcome) === 1, 'welcome');
    const q = pipe(file);
    await Promise.all([1, 2, 3].map((i) => q.push(flagsUpdate(i))));
    await waitFor(() => got.updates.length === 3 && other.count(Kind.Update) === 3, 'all three, both sides');
    assert.ok(seenAtFirst[0]! >= 1, `the read was relayed before the owner's handler saw its first update (relay writes then: ${seenAtFirst[0]})`);
    await other.end();
    await q.close();
  } finally {
    net.Socket.prototype.write = write;
  }
});

test("an owner whose own status listener throws keeps relaying and delivering the read, and the pusher is not blamed", async () => {
  const file = sock();
  const owner = pipe(file);
  const got = new Recorder();
  await owner.listen(got.handler);
  // A bug in the embedding process: its status listener throws (here on the gap's resync).
  owner.on('status', (st) => {
    if (st.type === 'resync') throw new Error('a status listener with a bug');
  });
  const other = await RawUnixClient.connect(file);
  other.hello({ origin: 'raw-other', listen: true });
  const pusher = await RawUnixClient.connect(file);
  pusher.hello({ origin: 'raw-pusher', listen: false });
  await waitFor(() => other.count(Kind.Welcome) === 1 && pusher.count(Kind.Welcome) === 1, 'welcomes');
  const env = (seq: number): Envelope => ({ v: 1, origin: 'P', seq, ts: 1, update: flagsUpdate(seq) });
  // One read: seq 2 is missing, so the owner's inbox resyncs, and the listener throws.
  pusher.write(Buffer.concat([1, 3, 4].map((seq) => encodeFrame(Kind.Update, encodeEnvelope(env(seq))))));
  await waitFor(() => other.count(Kind.Update) === 3, 'all three relayed');
  await waitFor(() => pusher.count(Kind.Ack) === 1, 'the pusher acknowledged');
  assert.equal(pusher.closed, false, 'the pusher was not rejected for our own bug');
  await waitFor(() => got.updates.some((r) => r.meta.seq === 4), 'the rest of the read delivered here');
  assert.equal(got.updates[0]!.meta.seq, 1);
  // And the owner goes on: a later push reaches both.
  pusher.write(encodeFrame(Kind.Update, encodeEnvelope(env(5))));
  await waitFor(() => other.count(Kind.Update) === 4 && got.updates.some((r) => r.meta.seq === 5), 'a later update');
  await Promise.all([other.end(), pusher.end()]);
});

test('a listener that stops reading is cut off; the owner stays bounded and others are unaffected', async () => {
  const file = sock();
  const owner = pipe(file, { maxPeerBuffer: 256 * 1024 });
  const ro = new Recorder();
  await owner.listen(ro.handler);
  const good = pipe(file);
  const rg = new Recorder();
  await good.listen(rg.handler);
  const stalled = await RawUnixClient.connect(file);
  stalled.hello({ origin: 'stalled', listen: true });
  await waitFor(() => stalled.count(Kind.Welcome) === 1, 'welcome');
  stalled.socket.pause();
  const pusher = pipe(file);
  const N = 20_000;
  for (let i = 1; i <= N; i += 1000) await Promise.all(Array.from({ length: 1000 }, (_, k) => pusher.push(flagsUpdate(i + k))));
  await waitFor(() => rg.updates.length === N, 'good listener got everything');
  await waitFor(() => owner.stats().rejected >= 1, 'stalled listener cut off');
  stalled.socket.resume();
  await waitFor(() => stalled.closed, 'stalled listener sees the end of its connection');
  assert.ok(stalled.count(Kind.Update) < N, 'it was cut before it got everything');
  assert.equal(rg.resyncs.length, 0);
});

test('deleting the socket file makes the owner rejoin; the pipe keeps working', async () => {
  const file = sock();
  const a = pipe(file);
  await a.listen(() => {});
  const b = pipe(file);
  const rb = new Recorder();
  await b.listen(rb.handler);
  await unlink(file);
  await waitFor(() => rb.resyncs.length >= 1, 'rejoin with resync', 10_000);
  await sleep(100);
  const c = pipe(file);
  await c.push(flagsUpdate(1));
  await waitFor(() => rb.updates.length === 1, 'update after rejoin');
  assert.ok((await stat(file)).isSocket());
});

test('a peer that connects and says nothing does not hurt anyone', async () => {
  const file = sock();
  const a = pipe(file);
  const r = new Recorder();
  await a.listen(r.handler);
  const silent = net.connect(file);
  await new Promise((res) => silent.once('connect', res));
  const p = pipe(file);
  await p.push(flagsUpdate(1));
  await waitFor(() => r.updates.length === 1, 'update');
  silent.destroy();
});

test('close() during a takeover lets go of the socket instead of binding after close', async () => {
  const file = sock();
  const a = pipe(file);
  await a.listen(() => {});
  const b = pipe(file);
  await b.listen(() => {});
  const closedA = a.close();
  await sleep(1); // b is now reconnecting / taking over
  await Promise.all([closedA, b.close()]);
  await sleep(100);
  assert.equal(b.isOwner, false);
  const p = pipe(file);
  await assert.rejects(p.initPush(), (e: unknown) => isPipeError(e, 'NO_LISTENER'), 'nobody may still be listening');
});

test('only a peer that never says HELLO is dropped; connections that did stay up', async () => {
  const file = sock();
  const owner = pipe(file, { helloTimeoutMs: 150 });
  await owner.listen(() => {});
  const l = pipe(file);
  const r = new Recorder();
  const statuses: string[] = [];
  l.on('status', (s) => statuses.push(s.type));
  await l.listen(r.handler);
  const silent = net.connect(file);
  await sleep(500);
  assert.equal(owner.stats().rejected, 1, 'the silent peer was dropped');
  assert.ok(!statuses.includes('disconnected'), 'the listener was not');
  await owner.push(flagsUpdate(1));
  await waitFor(() => r.updates.length === 1, 'still delivering');
  silent.destroy();
});

test('connections past the cap are refused with BUSY; those inside keep working', async () => {
  const file = sock();
  const owner = pipe(file, { maxPeers: 3 });
  const r = new Recorder();
  await owner.listen(r.handler);
  const held = await Promise.all([0, 1, 2].map(() => new Promise<net.Socket>((ok) => {
    const s = net.connect(file, () => ok(s));
  })));
  const refused = await new Promise<string>((resolve) => {
    const s = net.connect(file);
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('close', () => resolve(got));
  });
  assert.match(refused, /too many connections \(max 3\)/);
  for (const s of held) s.destroy();
  await sleep(300); // the owner sees them go
  const p = pipe(file);
  await p.push(flagsUpdate(1));
  await waitFor(() => r.updates.length === 1, 'a connection inside the cap works once others left');
});
