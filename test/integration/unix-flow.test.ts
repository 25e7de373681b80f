import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { decodeEnvelope } from '../../src/envelope/codec.js';
import { FrameDecoder } from '../../src/envelope/frame.js';
import { isPipeError } from '../../src/errors.js';
import { encodeAck, encodeNotice, encodeWelcome, Kind } from '../../src/hub/hub-protocol.js';
import { UnixPipe } from '../../pipes/unix/unix-pipe.js';
import { flagsUpdate, Recorder } from '../helpers/recorder.js';
import { RawUnixClient } from '../helpers/unix-raw.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Flow control in the socket owner, and push promises settling per batch in the hub
 * client (issue 13): pushes of one turn share a promise, which must still resolve only
 * once the hub took them, and reject on timeout; a reconnect resends only what was not taken.
 */

let dir = '';
let n = 0;
const sock = (): string => path.join(dir, `f${++n}.sock`);
const pipes: UnixPipe[] = [];
const pipe = (file: string, o = {}): UnixPipe => {
  const p = new UnixPipe(`unix:${file}`, o);
  pipes.push(p);
  return p;
};
const servers: net.Server[] = [];

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'up-flow-'));
});
after(async () => {
  await Promise.all(pipes.map((p) => p.close().catch(() => {})));
  for (const s of servers) s.close();
  await rm(dir, { recursive: true, force: true });
});

/**
 * A socket owner played by hand: says WELCOME, records the seq of every UPDATE per
 * connection, and acknowledges only what `ackUpTo(connection, taken)` allows.
 */
async function fakeOwner(file: string, ackUpTo: (conn: number, taken: number) => number, onConn?: (conn: number, s: net.Socket) => void): Promise<{ seqs: number[][] }> {
  const seqs: number[][] = [];
  const server = net.createServer((s) => {
    const conn = seqs.push([]) - 1;
    const d = new FrameDecoder();
    let acked = 0;
    s.on('error', () => {});
    onConn?.(conn, s);
    s.on('data', (c: Buffer) =>
      d.push(c, (kind, body) => {
        if (kind === Kind.Hello) s.write(encodeWelcome({ v: 1, epoch: 'fake', first: 1, resync: false }));
        if (kind !== Kind.Update) return;
        seqs[conn]!.push(decodeEnvelope(body).seq);
        const upTo = Math.min(seqs[conn]!.length, ackUpTo(conn, seqs[conn]!.length));
        if (upTo > acked) s.write(encodeAck((acked = upTo)));
      }),
    );
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(file, r));
  return { seqs };
}

const settle = (ps: Promise<void>[]): Promise<PromiseSettledResult<void>[]> => Promise.allSettled(ps);

/** An owner played by hand that says WELCOME and leaves each UPDATE to `onUpdate` (with the connection's count so far). */
async function handOwner(file: string, onUpdate: (s: net.Socket, count: number) => void, opts: net.ServerOpts = {}): Promise<net.Server> {
  const server = net.createServer(opts, (s) => {
    const d = new FrameDecoder();
    let count = 0;
    s.on('error', () => {});
    s.on('data', (c: Buffer) =>
      d.push(c, (kind) => {
        if (kind === Kind.Hello) s.write(encodeWelcome({ v: 1, epoch: 'fake', first: 1, resync: false }));
        if (kind === Kind.Update) onUpdate(s, ++count);
      }),
    );
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(file, r));
  return server;
}

test('a burst of pushes resolves only once the owner took every one of them', async () => {
  const file = sock();
  const owner = pipe(file);
  const ro = new Recorder();
  await owner.listen(ro.handler);
  const pusher = pipe(file);
  for (let round = 0; round < 3; round++) {
    await Promise.all(Array.from({ length: 1000 }, (_, k) => pusher.push(flagsUpdate(round * 1000 + k + 1))));
    // The owner delivers to its own process as it takes an update, before it acknowledges.
    assert.equal(ro.updates.length, (round + 1) * 1000);
  }
  assert.deepEqual(
    ro.updates.map((r) => r.meta.seq),
    Array.from({ length: 3000 }, (_, i) => i + 1),
  );
});

test('pushes the hub never acknowledged reject with TIMEOUT; those it did resolve, across batch boundaries', async () => {
  const file = sock();
  await fakeOwner(file, () => 300); // takes 300, acknowledges no more
  const pusher = pipe(file, { pushTimeoutMs: 300 });
  await pusher.initPush();
  const ps = Array.from({ length: 700 }, (_, k) => pusher.push(flagsUpdate(k + 1)));
  const rs = await settle(ps);
  const ok = rs.filter((r) => r.status === 'fulfilled').length;
  assert.ok(ok <= 300, `at most the 300 acknowledged resolve (got ${ok})`);
  // A batch resolves once its last frame is taken: every batch wholly inside the first 300 did.
  assert.ok(ok >= 256, `the first batch was taken whole and resolved (got ${ok})`);
  for (const r of rs.slice(ok)) {
    assert.equal(r.status, 'rejected');
    assert.ok(isPipeError((r as PromiseRejectedResult).reason, 'TIMEOUT'), String((r as PromiseRejectedResult).reason));
  }
  assert.ok(rs.slice(0, ok).every((r) => r.status === 'fulfilled'), 'resolutions are a prefix, in push order');
});

test('after a reconnect only what the hub had not taken is resent, in order', async () => {
  const file = sock();
  const N = 1000;
  let first: net.Socket | null = null;
  const fake = await fakeOwner(
    file,
    // The first connection acknowledges 300 once, when it has them all; the second everything.
    (conn, taken) => (conn === 0 ? (taken === N ? 300 : 0) : taken),
    (conn, s) => {
      if (conn === 0) first = s;
    },
  );
  const pusher = pipe(file);
  await pusher.initPush();
  const ps = Array.from({ length: N }, (_, k) => pusher.push(flagsUpdate(k + 1)));
  await ps[0]; // the ACK of 300 reached the pusher: the first batch (256) is taken
  first!.destroy();
  const rs = await settle(ps);
  assert.ok(
    rs.every((r) => r.status === 'fulfilled'),
    'all resolve once the second connection took the rest',
  );
  assert.deepEqual(
    fake.seqs[1],
    Array.from({ length: N - 300 }, (_, i) => i + 301),
    'the 300 taken are not resent; the rest are, in order',
  );
});

test('a pusher refused at HELLO fails the pushes made meanwhile with the refusal, not a timeout later', async () => {
  const file = sock();
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.once('data', () => s.end(encodeNotice({ code: 'FULL', message: 'too many peers' })));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(file, r));
  const pusher = pipe(file, { pushTimeoutMs: 5_000 });
  const init = pusher.initPush();
  const rs = await settle([init, pusher.push(flagsUpdate(1)), pusher.push(flagsUpdate(2))]);
  for (const r of rs) {
    assert.equal(r.status, 'rejected');
    assert.ok(isPipeError((r as PromiseRejectedResult).reason, 'NO_LISTENER'), String((r as PromiseRejectedResult).reason));
    assert.match(String((r as PromiseRejectedResult).reason), /too many peers/);
  }
});

test('after pushes time out on a live link, a late acknowledgement of theirs does not resolve later pushes (C6)', async () => {
  const file = sock();
  let conn: net.Socket | null = null;
  let updates = 0;
  // Takes the first three, acknowledges them only once the fourth has come.
  await handOwner(file, (s, count) => {
    conn = s;
    updates = count;
    if (count === 4) s.write(encodeAck(3));
  });
  const pusher = pipe(file, { pushTimeoutMs: 200 });
  await pusher.initPush();
  const first = await settle([1, 2, 3].map((k) => pusher.push(flagsUpdate(k))));
  assert.ok(first.every((r) => r.status === 'rejected' && isPipeError(r.reason, 'TIMEOUT')));
  let fourth = false;
  const p4 = pusher.push(flagsUpdate(4)).then(() => void (fourth = true));
  await waitFor(() => updates === 4, 'the fourth reached the hub');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(fourth, false, 'ACK 3 covers the three that timed out, not the fourth');
  conn!.write(encodeAck(4));
  await p4;
});

test('listen() called while a push is still connecting listens: that connection said HELLO as a pusher', async () => {
  const file = sock();
  const owner = pipe(file);
  await owner.listen(new Recorder().handler);
  const b = pipe(file);
  const rb = new Recorder();
  const pushed = b.push(flagsUpdate(1)); // starts a connection as a pusher
  await b.listen(rb.handler);
  await pushed;
  await pipe(file).push(flagsUpdate(2));
  await waitFor(() => rb.updates.length === 1, 'b hears the other pipe');
  assert.equal((rb.updates[0]!.u as { uid: number }).uid, 2);
});

test('a reconnect that wakes to find the pipe connected by someone else keeps that one connection', async () => {
  const file = sock();
  // The first owner takes the push, never acknowledges it, then goes away with its socket file.
  let firstConn: net.Socket | null = null;
  let firstGot = 0;
  const first = await handOwner(file, (s, count) => {
    firstConn = s;
    firstGot = count;
  });
  const pusher = pipe(file, { pushTimeoutMs: 30_000 });
  await pusher.initPush();
  let failures = 0;
  pusher.on('status', (st) => void (st.type === 'disconnected' && failures++));
  const p1 = pusher.push(flagsUpdate(1));
  await waitFor(() => firstGot === 1, 'the first owner has the push');
  await new Promise<void>((r) => (first.close(() => r()), firstConn!.destroy()));
  // The reconnect loop's pauses grow; after six failures it sleeps for 320–960 ms.
  await waitFor(() => failures >= 7, 'the reconnect loop failed six times', 10_000);
  const fake = await fakeOwner(file, (_conn, taken) => taken);
  await pusher.initPush(); // connects while the loop sleeps
  await p1;
  await new Promise((r) => setTimeout(r, 1_500)); // longer than the loop's pause
  assert.equal(fake.seqs.length, 1, 'the loop woke, found the link, and opened no second one');
  await pusher.push(flagsUpdate(2));
  assert.deepEqual(fake.seqs[0], [1, 2]);
});

test('close() ends even when the owner stops answering: a half-closed socket is not waited on forever', { timeout: 20_000 }, async () => {
  const file = sock();
  // Acknowledges, but never closes its side when the client ends its own (half-open).
  await handOwner(file, (s, count) => s.write(encodeAck(count)), { allowHalfOpen: true });
  const pusher = pipe(file);
  await pusher.push(flagsUpdate(1));
  await pusher.close();
});

test('close() waits for batched pushes to settle (C6): resolved once acknowledged, rejected on timeout', async () => {
  const file = sock();
  // Acknowledges everything, late.
  await handOwner(file, (s, count) => {
    if (count % 100 === 0) setTimeout(() => s.writable && s.write(encodeAck(count)), 100);
  });
  const pusher = pipe(file);
  await pusher.initPush();
  let settled = 0;
  const ps = Array.from({ length: 600 }, (_, k) => pusher.push(flagsUpdate(k + 1)).then(() => void settled++));
  await pusher.close();
  assert.equal(settled, 600, 'every push resolved before close() returned');
  await Promise.all(ps);

  const file2 = sock();
  await fakeOwner(file2, () => 0); // never acknowledges
  const stuck = pipe(file2, { pushTimeoutMs: 200 });
  await stuck.initPush();
  const qs = Array.from({ length: 10 }, (_, k) => stuck.push(flagsUpdate(k + 1)));
  const outcome = settle(qs);
  await stuck.close();
  const rs = await outcome;
  assert.ok(
    rs.every((r) => r.status === 'rejected' && isPipeError(r.reason, 'TIMEOUT')),
    'close() returned only after the unacknowledged pushes failed',
  );
});

test('flow control: a slow but live listener holds the pusher back instead of being cut off', async () => {
  const file = sock();
  // Small enough that the pusher outruns a slow reader by far more than this.
  const owner = pipe(file, { maxPeerBuffer: 256 * 1024 });
  const ro = new Recorder();
  await owner.listen(ro.handler);
  const slow = await RawUnixClient.connect(file);
  slow.hello({ origin: 'slow', listen: true });
  await waitFor(() => slow.count(Kind.Welcome) === 1, 'welcome');
  // Reads for 3 ms out of every 150: the kernel's socket buffer fills, then the owner's queue.
  slow.socket.pause();
  const reading = setInterval(() => {
    slow.socket.resume();
    setTimeout(() => slow.socket.pause(), 3);
  }, 150);
  try {
    const pusher = pipe(file);
    const N = 20_000;
    for (let i = 1; i <= N; i += 1000) await Promise.all(Array.from({ length: 1000 }, (_, k) => pusher.push(flagsUpdate(i + k))));
    await waitFor(() => slow.count(Kind.Update) === N, 'the slow listener got everything', 30_000);
    assert.equal(slow.closed, false, 'it was never cut off');
    assert.equal(owner.stats().rejected, 0);
    assert.equal(ro.updates.length, N);
  } finally {
    clearInterval(reading);
    slow.socket.resume();
    await slow.end();
  }
});

test('flow control: a listener that takes nothing is still cut off, and the held pusher goes on', async () => {
  const file = sock();
  const owner = pipe(file, { maxPeerBuffer: 128 * 1024, listenerStallMs: 200 });
  const ro = new Recorder();
  await owner.listen(ro.handler);
  const stuck = await RawUnixClient.connect(file);
  stuck.hello({ origin: 'stuck', listen: true });
  await waitFor(() => stuck.count(Kind.Welcome) === 1, 'welcome');
  stuck.socket.pause();
  const pusher = pipe(file);
  const N = 20_000;
  for (let i = 1; i <= N; i += 1000) await Promise.all(Array.from({ length: 1000 }, (_, k) => pusher.push(flagsUpdate(i + k))));
  assert.equal(ro.updates.length, N, 'the owner took everything');
  assert.ok(owner.stats().rejected >= 1, 'the stuck listener was cut off');
  stuck.socket.resume();
  await waitFor(() => stuck.closed, 'the stuck listener sees the end of its connection');
  assert.ok(stuck.count(Kind.Update) < N);
});
