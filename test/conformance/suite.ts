import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ENVELOPE_VERSION, type Envelope } from '../../src/envelope/envelope.js';
import type { PipeOptions, UpdatePipe } from '../../src/pipe/update-pipe.js';
import { flagsUpdate, Recorder } from '../helpers/recorder.js';
import { sleep, waitFor } from '../helpers/wait.js';

/**
 * What a backend gives the shared conformance suite. Every pipe a harness opens is on the
 * same channel. The raw hooks reach past the UpdatePipe API the way a buggy or hostile
 * peer would, to check dedup, gap handling and bad-input survival.
 */
export interface BackendHarness {
  name: string;
  /** A reason to skip (a missing server binary outside CI). */
  skip?: string | false;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  open(options?: PipeOptions): Promise<UpdatePipe>;
  /** Puts envelopes on the channel exactly as given (origin, seq), as one peer. */
  rawSend(envs: Envelope[]): Promise<void>;
  /** Sends arbitrary bytes as one message/frame/stream of a peer. */
  rawBytes(bytes: Buffer): Promise<void>;
  /** The bad inputs this transport can carry (frames, payloads), each named. */
  badInputs(): { name: string; bytes: Buffer }[];
  /** Total inputs the backend's receivers have rejected so far, over `pipes`. */
  rejected(pipes: UpdatePipe[]): number;
}

const env = (origin: string, seq: number, uid: number): Envelope => ({
  v: ENVELOPE_VERSION,
  origin,
  seq,
  ts: Date.now(),
  update: flagsUpdate(uid),
});

/** Registers the C1–C6 tests for one backend. */
export function conformance(h: BackendHarness): void {
  describe(`conformance: ${h.name}`, { skip: h.skip ?? false }, () => {
    const open: UpdatePipe[] = [];
    const pipe = async (o?: PipeOptions): Promise<UpdatePipe> => {
      const p = await h.open(o);
      open.push(p);
      return p;
    };
    const listener = async (o?: PipeOptions): Promise<{ p: UpdatePipe; r: Recorder }> => {
      const p = await pipe(o);
      const r = new Recorder();
      await p.listen(r.handler);
      return { p, r };
    };
    const closeAll = async (): Promise<void> => {
      await Promise.all(open.splice(0).map((p) => p.close().catch(() => {})));
    };

    before(() => h.setup());
    after(async () => {
      await closeAll();
      await h.teardown();
    });

    test('C1 every other listener gets every update once, in push order per origin', async () => {
      const a = await listener();
      const b = await listener();
      const c = await listener();
      const pusher = await pipe();
      await pusher.initPush();
      const N = 300;
      await Promise.all([
        ...Array.from({ length: N }, (_, i) => a.p.push(flagsUpdate(i + 1))),
        ...Array.from({ length: N }, (_, i) => pusher.push(flagsUpdate(i + 1, 'bob'))),
      ]);
      for (const [who, rec, expectA] of [['a', a.r, false], ['b', b.r, true], ['c', c.r, true]] as const) {
        const want = (expectA ? N : 0) + N;
        await waitFor(() => rec.updates.length >= want, `${who} to receive ${want}`);
        await sleep(50); // anything extra (a duplicate) would arrive now
        assert.equal(rec.updates.length, want, `${who} got each update exactly once`);
        const fromPusher = rec.from(pusher.origin).map((x) => x.meta.seq);
        assert.deepEqual(fromPusher, Array.from({ length: N }, (_, i) => i + 1), `${who}: pusher's updates in order`);
        if (expectA) assert.deepEqual(rec.from(a.p.origin).map((x) => (x.u as { uid: number }).uid), Array.from({ length: N }, (_, i) => i + 1));
        assert.equal(rec.resyncs.length, 0, `${who}: no resync on a healthy pipe`);
      }
      await closeAll();
    });

    test('C2 a pipe never hears its own pushes', async () => {
      const a = await listener();
      const b = await listener();
      await a.p.push(flagsUpdate(1));
      await b.p.push(flagsUpdate(2));
      await waitFor(() => a.r.updates.length === 1 && b.r.updates.length === 1, 'cross delivery');
      await sleep(50);
      assert.deepEqual(a.r.got.map((x) => x.meta.origin), [b.p.origin]);
      assert.deepEqual(b.r.got.map((x) => x.meta.origin), [a.p.origin]);
      await closeAll();
    });

    test('C3 copies of an (origin, seq) are dropped before the handler', async () => {
      const a = await listener();
      await h.rawSend([env('replayer', 1, 1), env('replayer', 2, 2), env('replayer', 2, 2), env('replayer', 1, 1), env('replayer', 3, 3)]);
      await h.rawSend([env('replayer', 3, 3), env('replayer', 4, 4)]); // a reconnect replay
      await waitFor(() => a.r.updates.length >= 4, '4 distinct updates');
      await sleep(50);
      assert.deepEqual(a.r.updates.map((x) => x.meta.seq), [1, 2, 3, 4]);
      assert.equal(a.p.stats().duplicates, 3);
      assert.equal(a.r.resyncs.length, 0);
      await closeAll();
    });

    test('C4 a gap in an origin\'s seq produces a resync; a late copy of a missing seq is delivered once', async () => {
      const a = await listener({ gapGraceMs: 100 });
      const b = await listener({ gapGraceMs: 0 });
      await h.rawSend([env('gappy', 1, 1), env('gappy', 2, 2), env('gappy', 5, 5), env('gappy', 4, 4), env('gappy', 4, 4)]);
      await waitFor(() => a.r.resyncs.length >= 1 && b.r.resyncs.length >= 1, 'gap resyncs');
      await sleep(150);
      for (const { p, r } of [a, b]) {
        assert.deepEqual(r.updates.map((x) => x.meta.seq), [1, 2, 5, 4], 'each once, 3 never');
        assert.deepEqual(r.resyncs.map((x) => x.meta.reason), ['gap'], 'one resync for the hole that stayed open');
        assert.equal(r.resyncs[0]!.u.type, 'resync');
        assert.equal(p.stats().gaps, 1);
      }
      const seen = b.r.got.map((x) => (x.meta.reason ? 'resync' : x.meta.seq));
      assert.deepEqual(seen.slice(0, 4), [1, 2, 'resync', 5], 'without a grace period the resync comes before the next update');
      await closeAll();
    });

    test('C4 a handler that falls too far behind gets one resync instead of an unbounded queue', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const got: string[] = [];
      const a = await pipe({ maxQueuedUpdates: 50 });
      let first = true;
      await a.listen(async (u, meta) => {
        got.push(meta.reason ? `resync:${meta.reason}` : String(meta.seq));
        if (first) {
          first = false;
          await gate;
        }
      });
      const b = await pipe();
      await b.initPush();
      await Promise.all(Array.from({ length: 200 }, (_, i) => b.push(flagsUpdate(i + 1))));
      await sleep(100);
      release();
      await waitFor(() => got.includes('200'), 'last update');
      assert.equal(got[0], '1');
      assert.ok(got.includes('resync:overflow'), `overflow resync in ${got.slice(0, 5).join(',')}…`);
      assert.ok(got.length < 120, `queue was bounded (${got.length} handler calls)`);
      await closeAll();
    });

    test('C5 bad input is rejected and counted; the pipe keeps serving everyone else', async () => {
      const a = await listener();
      const b = await listener();
      const before = h.rejected([a.p, b.p]);
      const bad = h.badInputs();
      assert.ok(bad.length >= 5, 'harness provides bad inputs');
      for (const { bytes } of bad) await h.rawBytes(bytes);
      const pusher = await pipe();
      await pusher.push(flagsUpdate(7));
      await waitFor(() => a.r.updates.length === 1 && b.r.updates.length === 1, 'a good update after bad input');
      await waitFor(() => h.rejected([a.p, b.p]) - before >= bad.length, `${bad.length} rejections counted`, 5_000).catch(() => {});
      const rejected = h.rejected([a.p, b.p]) - before;
      assert.ok(rejected >= bad.length, `rejected ${rejected} of ${bad.length} bad inputs (${bad.map((x) => x.name).join(', ')})`);
      assert.equal(a.r.updates.length, 1, 'nothing from the bad inputs reached a handler');
      assert.equal(a.r.updates[0]!.meta.origin, pusher.origin);
      await closeAll();
    });

    test('C6 close() loses nothing push() accepted', async () => {
      const a = await listener();
      const b = await pipe();
      const N = 2000;
      const pushes = Array.from({ length: N }, (_, i) => b.push(flagsUpdate(i + 1)));
      const closed = b.close();
      await Promise.all(pushes);
      await closed;
      await waitFor(() => a.r.updates.length >= N, `${N} updates after close`);
      assert.deepEqual(
        a.r.updates.map((x) => x.meta.seq),
        Array.from({ length: N }, (_, i) => i + 1),
      );
      await assert.rejects(b.push(flagsUpdate(1)), /closed/);
      await closeAll();
    });

    test('async handlers are called one at a time, in order', async () => {
      const got: number[] = [];
      let running = 0;
      let overlap = false;
      const a = await pipe();
      await a.listen(async (_u, meta) => {
        running++;
        if (running > 1) overlap = true;
        await sleep(Math.random() * 2);
        got.push(meta.seq);
        running--;
      });
      const b = await pipe();
      await Promise.all(Array.from({ length: 100 }, (_, i) => b.push(flagsUpdate(i + 1))));
      await waitFor(() => got.length === 100, '100 updates');
      assert.equal(overlap, false);
      assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => i + 1));
      await closeAll();
    });

    test('push rejects an invalid update with the field named, before sending', async () => {
      const a = await pipe();
      await assert.rejects(a.push({ type: 'exists', user: 'alice', mailbox: 'INBOX', uids: '' } as never), /uids/);
      await assert.rejects(a.push({ type: 'nope' } as never), /type/);
      await closeAll();
    });
  });
}
