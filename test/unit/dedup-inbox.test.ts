import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENVELOPE_VERSION, type Envelope } from '../../src/envelope/envelope.js';
import { Deduper } from '../../src/pipe/dedup.js';
import { Fifo } from '../../src/hub/fifo.js';
import { Inbox } from '../../src/pipe/inbox.js';
import { ReplayRing } from '../../src/hub/replay-ring.js';

test('dedup: new, duplicate and gap verdicts per origin', () => {
  const d = new Deduper({ ttlMs: 60_000, maxOrigins: 10 });
  assert.equal(d.check('a', 5), 'new'); // a late joiner may start anywhere
  assert.equal(d.check('a', 6), 'new');
  assert.equal(d.check('a', 6), 'duplicate');
  assert.equal(d.check('a', 2), 'duplicate');
  assert.equal(d.check('a', 9), 'gap');
  assert.equal(d.gapAfter, 6, 'the hole is 7..8');
  assert.equal(d.check('a', 8), 'late', 'a hole filled late is still news');
  assert.equal(d.check('a', 8), 'duplicate', 'but only once');
  assert.equal(d.check('a', 7), 'late');
  assert.equal(d.isMissing('a', 7), false);
  assert.equal(d.check('b', 1), 'new');
  const small = new Deduper({ ttlMs: 60_000, maxOrigins: 10, maxMissing: 3 });
  small.check('c', 1);
  assert.equal(small.check('c', 100), 'gap');
  assert.equal(small.check('c', 50), 'duplicate', 'holes beyond the bound are forgotten');
  assert.equal(small.check('c', 98), 'late');
});

test('dedup memory is bounded: idle origins expire, the oldest go first at the cap', () => {
  let now = 0;
  const d = new Deduper({ ttlMs: 1000, maxOrigins: 100, now: () => now });
  for (let i = 0; i < 1000; i++) d.check(`o${i}`, 1);
  assert.equal(d.size, 100);
  assert.equal(d.high('o999'), 1);
  assert.equal(d.high('o0'), 0);
  now = 5000;
  d.check('fresh', 1);
  d.sweep();
  assert.equal(d.size, 1);
});

const env = (origin: string, seq: number): Envelope => ({
  v: ENVELOPE_VERSION,
  origin,
  seq,
  ts: 0,
  update: { type: 'exists', user: 'u', mailbox: 'INBOX', uids: String(seq) as never },
});

const inbox = (maxQueued = 1000): Inbox =>
  new Inbox('me', { maxQueued, originTtlMs: 60_000, maxOrigins: 100, onHandlerError: () => {}, onResync: () => {} });

test('inbox drops echoes and copies, resyncs gaps', () => {
  const box = inbox();
  const got: string[] = [];
  box.setHandler((u, m) => void got.push(m.reason ? `resync:${m.reason}:${u.user}` : `${m.origin}${m.seq}`));
  for (const e of [env('me', 1), env('x', 1), env('x', 1), env('x', 2), env('x', 4), env('y', 1), env('x', 3)]) box.accept(e);
  assert.deepEqual(got, ['x1', 'x2', 'resync:gap:*', 'x4', 'y1', 'x3']);
  assert.equal(box.counters.echoes, 1);
  assert.equal(box.counters.duplicates, 1);
});

test('inbox with a gap grace: a hole filled in time is no loss; one left open is a resync', async () => {
  const box = new Inbox('me', { maxQueued: 100, originTtlMs: 60_000, maxOrigins: 100, gapGraceMs: 50, onHandlerError: () => {}, onResync: () => {} });
  const got: string[] = [];
  box.setHandler((_u, m) => void got.push(m.reason ? `resync:${m.reason}` : `${m.origin}${m.seq}${m.late ? ' late' : ''}`));
  for (const e of [env('x', 1), env('x', 3), env('x', 2), env('y', 1), env('y', 4)]) box.accept(e);
  await new Promise((r) => setTimeout(r, 120));
  assert.deepEqual(got, ['x1', 'x3', 'x2 late', 'y1', 'y4', 'resync:gap']);
  box.dispose();
});

test('inbox keeps going after a handler throws or rejects', async () => {
  const errors: unknown[] = [];
  const box = new Inbox('me', { maxQueued: 10, originTtlMs: 1000, maxOrigins: 10, onHandlerError: (e) => errors.push(e), onResync: () => {} });
  const got: number[] = [];
  box.setHandler(async (_u, m) => {
    got.push(m.seq);
    if (m.seq === 1) throw new Error('boom');
    if (m.seq === 2) return Promise.reject(new Error('async boom'));
  });
  for (let i = 1; i <= 4; i++) box.accept(env('x', i));
  await box.idle();
  assert.deepEqual(got, [1, 2, 3, 4]);
  assert.equal(errors.length, 2);
});

test('inbox: what a handler accepts while it runs is handled after it returns, in order; a handler that throws does not stop the rest', async () => {
  const errors: unknown[] = [];
  const box = new Inbox('me', { maxQueued: 10, originTtlMs: 1000, maxOrigins: 10, onHandlerError: (e) => errors.push(e), onResync: () => {} });
  const trace: string[] = [];
  const done: number[] = [];
  box.setHandler((_u, m) => {
    trace.push(`start ${m.seq}`);
    if (m.seq === 1) {
      box.accept(env('x', 2), () => done.push(2));
      box.accept(env('x', 3), () => done.push(3));
    }
    trace.push(`end ${m.seq}`);
    if (m.seq === 2 || m.seq === 4) throw new Error('sync boom');
  });
  box.accept(env('x', 1), () => done.push(1));
  assert.deepEqual(trace, ['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3'], 'one at a time, never nested');
  assert.deepEqual(done, [1, 2, 3], 'each acknowledged once, in order');
  assert.equal(errors.length, 1);
  assert.equal(box.counters.delivered, 3);
  const idle = await Promise.race([box.idle().then(() => 'idle'), new Promise((r) => setTimeout(() => r('still busy'), 100))]);
  assert.equal(idle, 'idle', 'nothing pending: idle() resolves');
  box.accept(env('x', 4)); // straight to the handler (nothing queued), and it throws
  box.accept(env('x', 5));
  assert.deepEqual(trace.slice(-4), ['start 4', 'end 4', 'start 5', 'end 5'], 'the next update after a throw is handled');
  assert.equal(errors.length, 2);
});

test('inbox: a copy of an update still in the handler is acknowledged only with the original (a redelivery must not ack it early)', async () => {
  const box = inbox(10);
  let release!: () => void;
  const handled: number[] = [];
  box.setHandler(async (_u, meta) => {
    if (meta.seq === 1) await new Promise<void>((r) => (release = r));
    handled.push(meta.seq);
  });
  const acks: string[] = [];
  box.accept(env('a', 1), () => acks.push('1'));
  box.accept(env('a', 2), () => acks.push('2')); // queued behind the slow one
  box.accept(env('a', 1), () => acks.push('1 copy'));
  box.accept(env('a', 2), () => acks.push('2 copy'));
  box.accept(env('a', 1), () => acks.push('1 copy again'));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(acks.length, 0, 'nothing is through the handler yet');
  release();
  await box.idle();
  assert.deepEqual(handled, [1, 2]);
  assert.deepEqual(acks, ['1', '1 copy', '1 copy again', '2', '2 copy']);
  box.accept(env('a', 1), () => acks.push('late copy'));
  assert.equal(acks.at(-1), 'late copy', 'a copy of one already handled is acknowledged at once');
});

test('replay ring returns what is held and refuses what fell out', () => {
  const ring = new ReplayRing(4, 1_000_000);
  for (let i = 0; i < 6; i++) ring.add(Buffer.from([i]));
  assert.equal(ring.oldest, 3);
  assert.equal(ring.next, 7);
  assert.deepEqual(ring.since(5)!.map((b) => b[0]), [4, 5]);
  assert.deepEqual(ring.since(7), []);
  assert.equal(ring.since(2), null);
  assert.equal(ring.since(8), null);
  const small = new ReplayRing(100, 10);
  for (let i = 0; i < 5; i++) small.add(Buffer.alloc(4));
  assert.equal(small.next - small.oldest, 2, 'byte bound applies');
});

test('fifo shifts in order and compacts', () => {
  const f = new Fifo<number>();
  for (let i = 0; i < 5000; i++) f.push(i);
  for (let i = 0; i < 4000; i++) assert.equal(f.shift(), i);
  assert.equal(f.length, 1000);
  assert.equal(f.peek(), 4000);
  assert.equal(f.last(), 4999);
  assert.equal(f.drain().length, 1000);
  assert.equal(f.shift(), undefined);
});
