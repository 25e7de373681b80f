import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { MaildirStore } from '../../src/maildir/index.js';
import { dropIntoNew, isPipeErrorWith, message, subjectOf, USER, withStore } from '../helpers/maildir-fixtures.js';

// Age-based breaking is kept out of the way unless a test is about it.
const PATIENT = { lock: { timeoutMs: 3_000, staleMs: 60_000 } };
const IMPATIENT = { lock: { timeoutMs: 300, staleMs: 60_000 } };

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  assert.ok(r.pid);
  return r.pid;
}

const inboxLock = (root: string): string => path.join(root, USER, 'updatepipe-uidlist.lock');
const minuteAgo = (): Date => new Date(Date.now() - 60_000);

test('a lock left by a dead process is broken at once', () =>
  withStore(async (store, root) => {
    await writeFile(inboxLock(root), `${deadPid()} ${hostname()} 0123abcd\n`);
    const started = Date.now();
    assert.equal((await store.append(USER, 'INBOX', message('after crash'))).uid, 1);
    assert.ok(Date.now() - started < 2_000, 'did not wait for the stale age');
    await assert.rejects(stat(inboxLock(root)), { code: 'ENOENT' });
  }, PATIENT));

test('a lock carrying our own pid but not our token (recycled pid) is broken', () =>
  withStore(async (store, root) => {
    await writeFile(inboxLock(root), `${process.pid} ${hostname()} 99999999\n`);
    assert.equal((await store.append(USER, 'INBOX', message('pid reuse'))).uid, 1);
  }, PATIENT));

test('a live holder makes others time out with a clear error, until its lock goes stale', async () => {
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  try {
    await withStore(async (store, root) => {
      await writeFile(inboxLock(root), `${holder.pid} ${hostname()} 0123abcd\n`);
      await assert.rejects(store.append(USER, 'INBOX', message('blocked')), isPipeErrorWith('TIMEOUT', new RegExp(`within 300 ms: held by pid ${holder.pid}`)));
      // The delivered file was taken back: an error means the message was not added.
      assert.deepEqual(await readdir(path.join(root, USER, 'new')), []);
      await assert.rejects(store.sync(USER, 'INBOX'), isPipeErrorWith('TIMEOUT'));

      // Not refreshed for longer than staleMs: the holder is hung, so the lock is broken.
      await utimes(inboxLock(root), minuteAgo(), minuteAgo());
      const aged = new MaildirStore(root, { lock: { timeoutMs: 300, staleMs: 10_000 } });
      assert.equal((await aged.append(USER, 'INBOX', message('unblocked'))).uid, 1);
    }, IMPATIENT);
  } finally {
    holder.kill();
    await once(holder, 'exit');
  }
});

test('an empty or garbage lock (crash before writing the pid) is broken only once old', () =>
  withStore(async (store, root) => {
    await writeFile(inboxLock(root), '');
    await assert.rejects(store.append(USER, 'INBOX', message('x')), isPipeErrorWith('TIMEOUT', /unknown holder/));
    await writeFile(inboxLock(root), '\u0000garbage\n');
    await utimes(inboxLock(root), minuteAgo(), minuteAgo());
    const aged = new MaildirStore(root, { lock: { timeoutMs: 300, staleMs: 10_000 } });
    assert.equal((await aged.append(USER, 'INBOX', message('y'))).uid, 1);
  }, IMPATIENT));

test('a breaker that crashed mid-break does not block forever', () =>
  withStore(async (_store, root) => {
    await writeFile(inboxLock(root), `${deadPid()} ${hostname()} 0123abcd\n`);
    await writeFile(`${inboxLock(root)}.break`, `${deadPid()} ${hostname()} 0\n`);
    await utimes(`${inboxLock(root)}.break`, minuteAgo(), minuteAgo());
    const store2 = new MaildirStore(root, { lock: { timeoutMs: 2_000, staleMs: 10_000 } });
    assert.equal((await store2.append(USER, 'INBOX', message('z'))).uid, 1);
  }));

test('a leftover temp UID list is ignored and cleaned up by the next process to look', () =>
  withStore(async (store, root) => {
    await store.append(USER, 'INBOX', message('a'));
    await store.append(USER, 'INBOX', message('b'));
    const before = await store.sync(USER, 'INBOX');
    const leftover = path.join(root, USER, 'updatepipe-uidlist.tmp.12345.abcdef');
    await writeFile(leftover, 'v1 1 99\n1 bogus\n50 other\n');
    // Each process sweeps a mailbox for debris at most once a minute: a new one sweeps now.
    const after = await new MaildirStore(root).sync(USER, 'INBOX');
    assert.deepEqual(after, before);
    await assert.rejects(stat(leftover), { code: 'ENOENT' });
  }));

test("a watcher's scan-mark temp file left by a crash is cleaned up by the next process to look", () =>
  withStore(async (store, root) => {
    await store.append(USER, 'INBOX', message('a'));
    const leftover = path.join(root, USER, 'updatepipe-scanned.tmp.12345');
    await writeFile(leftover, 'v1 1:2 3 4:5 6 7\n');
    await new MaildirStore(root).sync(USER, 'INBOX');
    await assert.rejects(stat(leftover), { code: 'ENOENT' });
    assert.ok((await readdir(path.join(root, USER))).includes('updatepipe-uidlist'), 'the list itself stays');
  }));

test('a message in new/ without a UID list entry is numbered exactly once, even by racing syncs', () =>
  withStore(async (store, root) => {
    await store.append(USER, 'INBOX', message('numbered'));
    // What an append that crashed between its rename and the UID list write leaves.
    await dropIntoNew(root, USER, '1700000001.M5P77Q1Rdeadbeef.host', 'orphan');
    const other = new MaildirStore(root);
    const states = await Promise.all([store.sync(USER, 'INBOX'), other.sync(USER, 'INBOX'), store.sync(USER, 'INBOX'), other.sync(USER, 'INBOX')]);
    for (const s of states) assert.deepEqual(s.messages.map((m) => m.uid), [1, 2]);
    assert.equal(subjectOf(await store.readMessage(USER, 'INBOX', 2)), 'orphan');
    const list = await readFile(path.join(root, USER, 'updatepipe-uidlist'), 'utf8');
    assert.equal(list.split('\n').filter((l) => l.endsWith(' 1700000001.M5P77Q1Rdeadbeef.host')).length, 1);
    assert.equal((await store.sync(USER, 'INBOX')).uidNext, 3);
  }));

test('an entry whose file disappeared is expunged on sync', () =>
  withStore(async (store) => {
    await store.append(USER, 'INBOX', message('keep'));
    const { uid } = await store.append(USER, 'INBOX', message('vanish'));
    const file = (await store.sync(USER, 'INBOX')).messages.find((m) => m.uid === uid)!.file;
    await unlink(file);
    const state = await store.sync(USER, 'INBOX');
    assert.deepEqual(state.messages.map((m) => m.uid), [1]);
    assert.equal(state.uidNext, 3);
    await assert.rejects(store.readMessage(USER, 'INBOX', uid), isPipeErrorWith('BAD_INPUT'));
    await assert.rejects(store.setFlags(USER, 'INBOX', uid, []), isPipeErrorWith('BAD_INPUT'));
  }));

test('debris of crashed deliveries, creates and deletes is never visible and gets cleaned', () =>
  withStore(async (store, root) => {
    const userDir = path.join(root, USER);
    const oldTmp = path.join(userDir, 'tmp', '1600000000.M1P1.host');
    const freshTmp = path.join(userDir, 'tmp', '1700000000.M1P2.host');
    await writeFile(oldTmp, message('half written'));
    await utimes(oldTmp, new Date(Date.now() - 48 * 3600_000), new Date(Date.now() - 48 * 3600_000));
    await writeFile(freshTmp, message('being written'));
    for (const debris of ['updatepipe-creating.1.M1P1.host', 'updatepipe-trash.1.M1P1.host']) {
      for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(userDir, debris, sub), { recursive: true });
    }
    assert.deepEqual((await store.sync(USER, 'INBOX')).messages, []);
    assert.deepEqual(await readdir(path.join(userDir, 'tmp')), [path.basename(freshTmp)]);
    assert.deepEqual(await store.listMailboxes(USER), ['INBOX']);
    await store.createMailbox(USER, 'Next');
    assert.deepEqual((await readdir(userDir)).filter((n) => n.startsWith('updatepipe-creating') || n.startsWith('updatepipe-trash')), []);
  }));
