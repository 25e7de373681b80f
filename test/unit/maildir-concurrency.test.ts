import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { dropIntoNew, message, subjectOf, USER, withStore } from '../helpers/maildir-fixtures.js';
import { MaildirStore } from '../../src/maildir/index.js';

const WORKER = fileURLToPath(new URL('../helpers/maildir-append-worker.js', import.meta.url));
const FLAG_WORKER = fileURLToPath(new URL('../helpers/maildir-flag-worker.js', import.meta.url));
const WRITERS = 4;
const PER_WRITER = 25;
const BY_HAND = 5;

interface WorkerResult {
  uids: number[];
  validities: number[];
}

function startWorker(root: string, mailbox: string, writer: string): { child: ChildProcess; ready: Promise<void>; result: Promise<WorkerResult> } {
  const child = spawn(process.execPath, [WORKER, root, USER, mailbox, writer, String(PER_WRITER)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  let signalReady!: () => void;
  const ready = new Promise<void>((resolve) => (signalReady = resolve));
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.startsWith('ready\n')) signalReady();
  });
  const result = once(child, 'exit').then(([code]) => {
    assert.equal(code, 0, `worker ${writer} exited with ${String(code)}`);
    return JSON.parse(out.slice('ready\n'.length)) as WorkerResult;
  });
  return { child, ready, result };
}

function assertStrictlyIncreasing(uids: number[], who: string): void {
  for (let i = 1; i < uids.length; i++) assert.ok(uids[i]! > uids[i - 1]!, `${who}: ${uids.join(',')}`);
}

test('concurrent writers in several processes never lose or duplicate a UID', { timeout: 60_000 }, () =>
  withStore(async (store, root) => {
    await store.createMailbox(USER, 'Shared/Box');
    const workers = Array.from({ length: WRITERS }, (_, i) => startWorker(root, 'Shared/Box', `w${i}`));
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.child.stdin!.end('go\n');

    // Meanwhile this process appends too, and another "MDA" drops files into new/.
    const mine: number[] = [];
    const mailboxDir = `Shared/Box`;
    for (let i = 0; i < PER_WRITER; i++) {
      mine.push((await store.append(USER, mailboxDir, message(`parent-${i}`))).uid);
      if (i % 5 === 0 && i / 5 < BY_HAND) await dropIntoNew(root, `${USER}/.Shared.Box`, `1700000000.byhand${i / 5}.host`, `hand-${i / 5}`);
    }
    const results = await Promise.all(workers.map((w) => w.result));

    const expected = new Map<string, number>();
    mine.forEach((uid, i) => expected.set(`parent-${i}`, uid));
    results.forEach((r, w) => r.uids.forEach((uid, i) => expected.set(`w${w}-${i}`, uid)));
    assertStrictlyIncreasing(mine, 'parent');
    results.forEach((r, w) => assertStrictlyIncreasing(r.uids, `w${w}`));
    const all = [...expected.values()];
    assert.equal(new Set(all).size, all.length, 'UIDs handed out are unique');

    const state = await store.sync(USER, mailboxDir);
    assert.deepEqual(new Set(results.flatMap((r) => r.validities)), new Set([state.uidValidity]));
    const total = (WRITERS + 1) * PER_WRITER + BY_HAND;
    assert.equal(state.messages.length, total);
    // Nothing was expunged, so UIDs are exactly 1..total with no gaps.
    assert.deepEqual(state.messages.map((m) => m.uid), Array.from({ length: total }, (_, i) => i + 1));
    assert.equal(state.uidNext, total + 1);

    const seen = new Map<string, number>();
    for (const m of state.messages) {
      const subject = subjectOf(await store.readMessage(USER, mailboxDir, m.uid));
      assert.ok(!seen.has(subject), `${subject} stored twice`);
      seen.set(subject, m.uid);
    }
    for (const [subject, uid] of expected) assert.equal(seen.get(subject), uid, subject);
    for (let i = 0; i < BY_HAND; i++) assert.ok(seen.has(`hand-${i}`), `hand-${i} numbered`);

    // Later syncs keep every UID.
    const again = await store.sync(USER, mailboxDir);
    assert.deepEqual(again.messages.map((m) => [m.uid, m.file]), state.messages.map((m) => [m.uid, m.file]));
  }));

test('a file dropped into new/ by hand gets one UID and keeps it', () =>
  withStore(async (store, root) => {
    await store.append(USER, 'INBOX', message('first'));
    await dropIntoNew(root, USER, '1700000000.M1P1.mda', 'dropped');
    const one = await store.sync(USER, 'INBOX');
    assert.deepEqual(one.messages.map((m) => m.uid), [1, 2]);
    assert.equal(subjectOf(await store.readMessage(USER, 'INBOX', 2)), 'dropped');
    for (let i = 0; i < 3; i++) {
      const later = await store.sync(USER, 'INBOX');
      assert.deepEqual(later.messages.map((m) => m.uid), [1, 2]);
      assert.equal(later.uidNext, 3);
    }
    // Flag changes by a client keep it too.
    await store.setFlags(USER, 'INBOX', 2, ['\\Seen']);
    assert.deepEqual((await store.sync(USER, 'INBOX')).messages.map((m) => [m.uid, m.flags]), [
      [1, []],
      [2, ['\\Seen']],
    ]);
  }));

test('concurrent calls on one store instance queue up', () =>
  withStore(async (store) => {
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => store.append(USER, 'INBOX', message(`c${i}`))));
    assert.deepEqual(
      results.map((r) => r.uid).sort((a, b) => a - b),
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
  }));

test('a sync racing flag changes in another process never misses a message (files are described under the lock)', { timeout: 60_000 }, () =>
  withStore(async (store, root) => {
    for (let i = 0; i < 30; i++) await store.append(USER, 'INBOX', message(`m${i}`));
    const flipper = spawn(process.execPath, [FLAG_WORKER, root, USER, 'INBOX', '30'], { stdio: ['pipe', 'pipe', 'inherit'] });
    await once(flipper.stdout!, 'data');
    try {
      for (let round = 0; round < 150; round++) {
        const state = await store.sync(USER, 'INBOX');
        assert.equal(state.messages.length, 30, `round ${round}: a message being renamed looked gone`);
      }
    } finally {
      flipper.stdin!.end('stop\n');
      await once(flipper, 'exit');
    }
  }));
