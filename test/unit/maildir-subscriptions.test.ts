import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatSubscriptions, parseSubscriptions, SUBSCRIPTIONS_FILE } from '../../src/maildir/subscriptions.js';
import { USER, withStore } from '../helpers/maildir-fixtures.js';

test('subscriptions: Dovecot\'s file format, lenient reading, order kept, no duplicates', () => {
  assert.equal(formatSubscriptions(['INBOX', 'Work/Projects', 'Entwürfe']), 'V\t2\n\nINBOX\nWork\tProjects\nEntwürfe\n');
  assert.deepEqual(parseSubscriptions('V\t2\n\nWork\tProjects\ninbox\n\nWork\tProjects\n'), ['Work/Projects', 'INBOX']);
  assert.deepEqual(parseSubscriptions('INBOX\nArchive/2025\n'), ['INBOX', 'Archive/2025'], 'a plain list (no header) uses "/"');
  assert.deepEqual(parseSubscriptions('V\t2\n\n/lead\ntrail/\na\x01b\n\tx\nok\n'), ['ok'], 'names the store would refuse are skipped');
  assert.deepEqual(parseSubscriptions('V\t2\n'), [], 'a header without the empty line: nothing');
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => {
      const names = parseSubscriptions(s);
      assert.deepEqual(parseSubscriptions(formatSubscriptions(names)), names, 'round-trips');
    }),
    { numRuns: 1000 },
  );
});

test('subscribe and unsubscribe: idempotent, persisted beside the Maildir, atomic under concurrency', async () => {
  await withStore(async (store, root) => {
    const subs = await store.subscriptions(USER);
    assert.deepEqual(await subs.list(), []);
    assert.equal(await subs.subscribe('inbox'), true);
    assert.equal(await subs.subscribe('INBOX'), false, 'INBOX in any case is one name');
    assert.equal(await subs.subscribe('Gone/Away'), true, 'existence is the caller\'s business');
    assert.equal(await subs.unsubscribe('Never'), false);
    const file = path.join(root, USER, SUBSCRIPTIONS_FILE);
    assert.equal(await readFile(file, 'utf8'), 'V\t2\n\nINBOX\nGone\tAway\n');
    // Many writers at once, each with its own handle, as separate processes would be.
    const names = Array.from({ length: 40 }, (_, i) => `Box${i}`);
    await Promise.all(names.map(async (n) => (await store.subscriptions(USER)).subscribe(n)));
    assert.deepEqual((await subs.list()).sort(), ['Gone/Away', 'INBOX', ...names].sort());
    await Promise.all(names.map(async (n) => (await store.subscriptions(USER)).unsubscribe(n)));
    assert.deepEqual(await subs.list(), ['INBOX', 'Gone/Away']);
    assert.deepEqual((await readdir(path.join(root, USER))).filter((f) => f.includes('subscriptions')), [SUBSCRIPTIONS_FILE], 'no lock or temp file left');
    await assert.rejects(subs.subscribe('a//b'), /mailbox/);
    await writeFile(file, Buffer.concat([Buffer.from('V\t2\n\nINBOX\nGood\x00Bad\nWork\tOk\n'), Buffer.from([0xff, 0xfe, 0x0a])]));
    assert.deepEqual(await subs.list(), ['INBOX', 'Work/Ok'], 'a damaged file: the good lines count');
  });
});

test('a subscribed name that begins with U+FEFF reads back whole (the decoder does not take it for a byte-order mark)', async () => {
  await withStore(async (store) => {
    const subs = await store.subscriptions(USER);
    await subs.subscribe('\ufeffNotes');
    await subs.subscribe('INBOX');
    assert.deepEqual(await (await store.subscriptions(USER)).list(), ['\ufeffNotes', 'INBOX']);
  });
});
