import assert from 'node:assert/strict';
import { access, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { UidSet } from '../../src/update/uid-set.js';
import { isPipeErrorWith, message, sortedLower, USER, withStore } from '../helpers/maildir-fixtures.js';

test('append, sync and read back', () =>
  withStore(async (store, root) => {
    const date = new Date('2024-03-01T12:34:56.000Z');
    const a = await store.append(USER, 'INBOX', message('one'));
    const b = await store.append(USER, 'inbox', message('two'), ['\\Seen', '$Forwarded'], date);
    const c = await store.append(USER, 'INBOX', Readable.from([Buffer.from('Subject: three\r\n'), '\r\nstreamed\r\n']));
    assert.deepEqual([a.uid, b.uid, c.uid], [1, 2, 3]);
    assert.equal(a.uidValidity, b.uidValidity);

    const state = await store.sync(USER, 'INBOX');
    assert.equal(state.uidValidity, a.uidValidity);
    assert.equal(state.uidNext, 4);
    assert.deepEqual(state.messages.map((m) => m.uid), [1, 2, 3]);
    const [m1, m2, m3] = state.messages;
    assert.deepEqual(m1!.flags, []);
    assert.ok(m1!.file.startsWith(path.join(root, USER, 'new') + path.sep), 'no flags: new/');
    assert.deepEqual(sortedLower(m2!.flags), ['$forwarded', '\\seen']);
    assert.ok(m2!.file.startsWith(path.join(root, USER, 'cur') + path.sep) && m2!.file.endsWith(':2,Sa'), m2!.file);
    assert.equal(m2!.internalDate.getTime(), date.getTime());
    assert.equal(m2!.size, message('two').length);
    assert.equal(m3!.size, 'Subject: three\r\n\r\nstreamed\r\n'.length);

    assert.deepEqual(await store.readMessage(USER, 'INBOX', 2), message('two'));
    assert.equal((await store.readMessage(USER, 'INBOX', 3)).toString(), 'Subject: three\r\n\r\nstreamed\r\n');
    await assert.rejects(store.readMessage(USER, 'INBOX', 9), isPipeErrorWith('BAD_INPUT', /uid 9 does not exist/));
    // Syncing again changes nothing.
    assert.deepEqual(await store.sync(USER, 'INBOX'), state);
    assert.deepEqual(await readdir(path.join(root, USER, 'tmp')), []);
  }));

test('flags: set, add, remove; new/ to cur/ on first change; basename and UID kept', () =>
  withStore(async (store, root) => {
    const { uid } = await store.append(USER, 'INBOX', message('f'));
    const before = (await store.sync(USER, 'INBOX')).messages[0]!.file;
    assert.deepEqual(await store.setFlags(USER, 'INBOX', uid, ['\\seen', '\\Recent', 'Work', '\\SEEN']), ['\\Seen', 'Work']);
    assert.deepEqual(sortedLower(await store.addFlags(USER, 'INBOX', uid, ['\\Flagged', 'work', '$Junk'])), ['$junk', '\\flagged', '\\seen', 'work']);
    assert.deepEqual(sortedLower(await store.removeFlags(USER, 'INBOX', uid, ['WORK', '\\Seen', '\\Draft'])), ['$junk', '\\flagged']);
    const after = (await store.sync(USER, 'INBOX')).messages[0]!;
    assert.equal(after.uid, uid);
    assert.deepEqual(sortedLower(after.flags), ['$junk', '\\flagged']);
    assert.equal(path.dirname(after.file), path.join(root, USER, 'cur'));
    assert.equal(path.basename(after.file).split(':')[0], path.basename(before));
    assert.deepEqual(await store.setFlags(USER, 'INBOX', uid, []), []);
    await assert.rejects(store.setFlags(USER, 'INBOX', 42, ['\\Seen']), isPipeErrorWith('BAD_INPUT', /uid 42 does not exist/));
    // Keyword letters are stable per mailbox, Dovecot-style.
    assert.equal(await readFile(path.join(root, USER, 'updatepipe-keywords'), 'utf8'), '0 Work\n1 $Junk\n');
  }));

test('at most 26 keywords per mailbox, with a clear error', () =>
  withStore(async (store) => {
    const { uid } = await store.append(USER, 'INBOX', message('k'));
    const many = Array.from({ length: 26 }, (_, i) => `kw${i}`);
    assert.equal((await store.setFlags(USER, 'INBOX', uid, many)).length, 26);
    await assert.rejects(store.addFlags(USER, 'INBOX', uid, ['one-too-many']), isPipeErrorWith('BAD_INPUT', /26 keywords/));
    await assert.rejects(store.append(USER, 'INBOX', message('k2'), ['another']), isPipeErrorWith('BAD_INPUT', /26 keywords/));
  }));

test('expunge removes only present UIDs; expungeDeleted removes \\Deleted ones', () =>
  withStore(async (store) => {
    for (let i = 1; i <= 6; i++) await store.append(USER, 'INBOX', message(`m${i}`));
    assert.deepEqual((await store.expunge(USER, 'INBOX', UidSet.parse('2,4,9:12'))).uids, [2, 4]);
    assert.deepEqual(await store.expunge(USER, 'INBOX', UidSet.of(2)), { uids: [], modseq: undefined });
    await store.addFlags(USER, 'INBOX', 3, ['\\Deleted']);
    await store.addFlags(USER, 'INBOX', 6, ['\\Deleted', '\\Seen']);
    assert.deepEqual((await store.expungeDeleted(USER, 'INBOX')).uids, [3, 6]);
    assert.deepEqual((await store.expungeDeleted(USER, 'INBOX')).uids, []);
    const state = await store.sync(USER, 'INBOX');
    assert.deepEqual(state.messages.map((m) => m.uid), [1, 5]);
    assert.equal(state.uidNext, 7, 'UIDs are never reused');
    assert.equal((await store.append(USER, 'INBOX', message('m7'))).uid, 7);
  }));

test('create, list, delete, rename mailboxes', () =>
  withStore(async (store, root) => {
    const names = ['Archive', 'Archive/2023', 'Archive/2023/Q1', 'Entwürfe/Q4 *report* > 1', 'v1.2', 'a.b/c.d'];
    const validities = new Set<number>();
    for (const n of names) validities.add((await store.createMailbox(USER, n)).uidValidity);
    assert.equal(validities.size, names.length, 'UIDVALIDITY unique even within one second');
    // Superiors are made too: 'Entwürfe' and 'a.b' (RFC 3501 §6.3.3).
    assert.deepEqual(await store.listMailboxes(USER), ['INBOX', ...[...names, 'Entwürfe', 'a.b'].sort()]);
    await assert.rejects(store.createMailbox(USER, 'Archive'), isPipeErrorWith('BAD_INPUT', /already exists/));
    await assert.rejects(store.createMailbox(USER, 'inbox'), isPipeErrorWith('BAD_INPUT', /already exists/));

    const { uid } = await store.append(USER, 'Archive/2023', message('old'), ['\\Seen']);
    const before = await store.sync(USER, 'Archive/2023');
    await store.renameMailbox(USER, 'Archive', 'Old.Stuff/Archive');
    assert.deepEqual(await store.listMailboxes(USER), [
      'INBOX',
      'Entwürfe',
      'Entwürfe/Q4 *report* > 1',
      'Old.Stuff',
      'Old.Stuff/Archive',
      'Old.Stuff/Archive/2023',
      'Old.Stuff/Archive/2023/Q1',
      'a.b',
      'a.b/c.d',
      'v1.2',
    ]);
    const after = await store.sync(USER, 'Old.Stuff/Archive/2023');
    assert.equal(after.uidValidity, before.uidValidity);
    assert.deepEqual(after.messages.map((m) => [m.uid, m.flags]), [[uid, ['\\Seen']]]);
    assert.deepEqual(await store.readMessage(USER, 'Old.Stuff/Archive/2023', uid), message('old'));
    await assert.rejects(store.sync(USER, 'Archive/2023'), isPipeErrorWith('BAD_INPUT', /does not exist/));
    // The renamed mailbox's lock went with it and was released: it is usable at once.
    await store.append(USER, 'Old.Stuff/Archive/2023', message('new'));

    await assert.rejects(store.renameMailbox(USER, 'v1.2', 'a.b/c.d'), isPipeErrorWith('BAD_INPUT', /already exists/));
    await assert.rejects(store.renameMailbox(USER, 'v1.2', 'v1.2/sub'), isPipeErrorWith('BAD_INPUT', /itself/));
    await assert.rejects(store.renameMailbox(USER, 'INBOX', 'X'), isPipeErrorWith('BAD_INPUT', /INBOX/));
    await assert.rejects(store.renameMailbox(USER, 'nope', 'X'), isPipeErrorWith('BAD_INPUT', /does not exist/));
    await assert.rejects(store.renameMailbox(USER, 'nope', 'New/X'), isPipeErrorWith('BAD_INPUT', /does not exist/));
    assert.ok(!(await store.listMailboxes(USER)).includes('New'), 'a failed RENAME makes no superiors');

    await store.deleteMailbox(USER, 'Old.Stuff/Archive');
    assert.ok((await store.listMailboxes(USER)).includes('Old.Stuff/Archive/2023'), 'children stay');
    assert.ok(!(await store.listMailboxes(USER)).includes('Old.Stuff/Archive'));
    await assert.rejects(store.deleteMailbox(USER, 'INBOX'), isPipeErrorWith('BAD_INPUT', /INBOX cannot be deleted/));
    await assert.rejects(store.deleteMailbox(USER, 'Old.Stuff/Archive'), isPipeErrorWith('BAD_INPUT', /does not exist/));

    // A re-created mailbox gets a new UIDVALIDITY, so clients drop stale caches.
    const recreated = await store.createMailbox(USER, 'Old.Stuff/Archive');
    assert.ok(!validities.has(recreated.uidValidity));
    assert.deepEqual((await store.sync(USER, 'Old.Stuff/Archive')).messages, []);
    const leftovers = (await readdir(path.join(root, USER))).filter((n) => n.startsWith('updatepipe-') && n.includes('.'));
    assert.deepEqual(leftovers, [], 'no staging, trash or lock files left');
  }));

test('unknown users and mailboxes are BAD_INPUT', () =>
  withStore(async (store) => {
    await assert.rejects(store.sync('bob', 'INBOX'), isPipeErrorWith('BAD_INPUT', /user "bob" does not exist/));
    await assert.rejects(store.listMailboxes('bob'), isPipeErrorWith('BAD_INPUT'));
    await assert.rejects(store.append(USER, 'Nope', message('x')), isPipeErrorWith('BAD_INPUT', /mailbox "Nope" does not exist/));
    await store.ensureUser('bob');
    await store.ensureUser('bob');
    assert.deepEqual(await store.listMailboxes('bob'), ['INBOX']);
    const state = await store.sync('bob', 'INBOX');
    assert.deepEqual([state.uidNext, state.messages.length], [1, 0]);
  }));

test('message files are absolute paths that exist', () =>
  withStore(async (store) => {
    await store.append(USER, 'INBOX', message('p'));
    for (const m of (await store.sync(USER, 'INBOX')).messages) {
      assert.ok(path.isAbsolute(m.file));
      await access(m.file);
    }
  }));
