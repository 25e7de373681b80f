import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { MaildirStore } from '../../src/maildir/index.js';
import { MAX_EXPUNGE_RECORDS, parseUidList } from '../../src/maildir/uid-list.js';
import { UidSet } from '../../src/update/uid-set.js';
import { dropIntoNew, message, USER, withStore } from '../helpers/maildir-fixtures.js';
import { sleep } from '../helpers/wait.js';

const WORKER = fileURLToPath(new URL('../helpers/maildir-edit-worker.js', import.meta.url));

test('expunges are remembered with their modseq: what vanished since any modseq, exactly', () =>
  withStore(async (store, root) => {
    for (let i = 0; i < 6; i++) await store.append(USER, 'INBOX', message(`m${i}`));
    const before = (await store.sync(USER, 'INBOX')).highestModseq;
    const first = await store.expunge(USER, 'INBOX', UidSet.parse('2,4'));
    await store.setFlags(USER, 'INBOX', 1, ['\\Deleted']);
    const second = await store.expungeDeleted(USER, 'INBOX');
    // Another tool deleting a file: found by a scan, remembered the same way.
    const files = (await store.sync(USER, 'INBOX')).messages;
    const { unlink } = await import('node:fs/promises');
    await unlink(files.find((m) => m.uid === 6)!.file);
    await dropIntoNew(root, USER, '1700000009.M1P1.mda', 'new one');
    const found = await store.discover(USER, 'INBOX');
    await found.announcement.done();
    assert.deepEqual(first.uids, [2, 4]);
    assert.deepEqual(second.uids, [1]);
    assert.ok(second.modseq! > first.modseq!);
    assert.deepEqual(await store.expungedSince(USER, 'INBOX', before), [1, 2, 4, 6]);
    assert.deepEqual(await store.expungedSince(USER, 'INBOX', first.modseq!), [1, 6]);
    assert.deepEqual(await store.expungedSince(USER, 'INBOX', second.modseq!), [6]);
    assert.deepEqual(await store.expungedSince(USER, 'INBOX', (await store.sync(USER, 'INBOX')).highestModseq), []);
  }));

test(`the expunge history is bounded (${MAX_EXPUNGE_RECORDS} operations): asking from before it says so`, { timeout: 60_000 }, () =>
  withStore(async (store, root) => {
    const start = (await store.sync(USER, 'INBOX')).highestModseq;
    for (let i = 0; i < MAX_EXPUNGE_RECORDS + 10; i++) {
      const { uid } = await store.append(USER, 'INBOX', message(`m${i}`));
      await store.expunge(USER, 'INBOX', UidSet.of(uid));
    }
    const list = parseUidList(await readFile(path.join(root, USER, 'updatepipe-uidlist'), 'utf8'));
    assert.ok(!('corrupt' in list));
    assert.equal(list.expunged.length, MAX_EXPUNGE_RECORDS);
    assert.ok(list.vanishedFloor > start);
    assert.equal(await store.expungedSince(USER, 'INBOX', start), null, 'forgotten: the caller must fall back');
    assert.equal((await store.expungedSince(USER, 'INBOX', list.vanishedFloor))!.length, MAX_EXPUNGE_RECORDS);
    assert.ok((await stat(path.join(root, USER, 'updatepipe-uidlist'))).size < 64 * 1024, 'the list stays small');
  }));

test('modseq survives crashes: an editing process SIGKILLed again and again never leaves a broken list, a lower modseq, or an announced modseq unrecorded', { timeout: 90_000 }, () =>
  withStore(async (_store, root) => {
    let highest = 0;
    for (let round = 0; round < 8; round++) {
      const child = spawn(process.execPath, [WORKER, root, USER], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      while (!out.startsWith('go\n')) await sleep(5);
      await sleep(150 + ((round * 97) % 300)); // killed somewhere in the middle of an edit
      child.kill('SIGKILL');
      await once(child, 'exit');
      const announced = out.split('\n').slice(1, -1).map(Number);
      // The next process: the lock of the dead one is broken, the list is whole.
      const state = await new MaildirStore(root).sync(USER, 'INBOX');
      const list = parseUidList(await readFile(path.join(root, USER, 'updatepipe-uidlist'), 'utf8'));
      assert.ok(!('corrupt' in list), `round ${round}: ${JSON.stringify(list)}`);
      await assert.rejects(stat(path.join(root, USER, 'updatepipe-uidlist.corrupt')), { code: 'ENOENT' });
      assert.ok(state.highestModseq >= highest, `round ${round}: HIGHESTMODSEQ went back from ${highest} to ${state.highestModseq}`);
      for (const m of announced) assert.ok(m <= state.highestModseq, `round ${round}: modseq ${m} was announced but is not recorded`);
      for (const m of state.messages) assert.ok(m.modseq <= state.highestModseq);
      highest = state.highestModseq;
      const again = await new MaildirStore(root).append(USER, 'INBOX', message(`after ${round}`));
      assert.ok(again.modseq > highest, 'a modseq is never handed out twice');
      highest = again.modseq;
    }
  }));
