import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { ANNOUNCING_DIR, findStaleAnnouncements, type Announcement } from '../../src/maildir/announcement.js';
import { MaildirStore } from '../../src/maildir/index.js';
import { UidSet } from '../../src/update/uid-set.js';
import type { Update } from '../../src/update/update.js';
import { dropIntoNew, isPipeErrorWith, message, USER, withStore } from '../helpers/maildir-fixtures.js';

/** The updates of a discovery, without the scope fields that vary (uidValidity). */
async function found(store: MaildirStore, mailbox = 'INBOX'): Promise<Update[]> {
  const { announcement } = await store.discover(USER, mailbox);
  await announcement.done();
  return announcement.updates.map((u) => {
    const { uidValidity: _uv, ...rest } = u as Update & { uidValidity?: number };
    return rest as Update;
  });
}

const markers = async (root: string): Promise<string[]> => readdir(path.join(root, ANNOUNCING_DIR)).catch(() => []);

test('a delivery by another tool is found once, with a UID and a modseq; then nothing', () =>
  withStore(async (store, root) => {
    await store.append(USER, 'INBOX', message('ours'));
    await dropIntoNew(root, USER, '1700000001.M1P1.mda', 'theirs');
    const first = await found(store);
    assert.equal(first.length, 1);
    assert.deepEqual(first[0], { type: 'exists', user: USER, mailbox: 'INBOX', uids: '2', modseq: 3 });
    assert.deepEqual(await found(store), [], 'found once');
    assert.deepEqual((await store.sync(USER, 'INBOX')).messages.map((m) => [m.uid, m.modseq]), [[1, 2], [2, 3]]);
  }));

test("the store's own changes are never found: its callers announced them", () =>
  withStore(async (store) => {
    const { uid } = await store.append(USER, 'INBOX', message('a'), ['\\Seen']);
    await store.append(USER, 'INBOX', message('b'));
    await store.addFlags(USER, 'INBOX', uid, ['\\Flagged', '$Work']);
    await store.storeFlags(USER, 'INBOX', [1, 2], 'add', ['\\Answered']);
    await store.expunge(USER, 'INBOX', UidSet.of(2));
    await store.createMailbox(USER, 'Lists/Node');
    await store.renameMailbox(USER, 'Lists', 'Groups');
    await store.deleteMailbox(USER, 'Groups/Node');
    assert.deepEqual(await found(store), []);
    assert.deepEqual((await store.discoverFolders(USER)).updates, []);
  }));

test("another tool's flag rename is found as a flags update; letters IMAP does not see are recorded silently", () =>
  withStore(async (store, root) => {
    const { uid } = await store.append(USER, 'INBOX', message('a'));
    const cur = path.join(root, USER, 'cur');
    const newDir = path.join(root, USER, 'new');
    const [name] = await readdir(newDir);
    // mutt reading it: new/ → cur/ with ":2," is no flag change at all.
    await rename(path.join(newDir, name!), path.join(cur, `${name}:2,`));
    assert.deepEqual(await found(store), []);
    await rename(path.join(cur, `${name}:2,`), path.join(cur, `${name}:2,RS`));
    const f = await found(store);
    assert.deepEqual(f, [{ type: 'flags', user: USER, mailbox: 'INBOX', uid, flags: ['\\Answered', '\\Seen'], modseq: 3 }]);
    // "P" (passed) is another program's letter: recorded, nothing to announce, no modseq.
    await rename(path.join(cur, `${name}:2,RS`), path.join(cur, `${name}:2,PRS`));
    assert.deepEqual(await found(store), []);
    assert.equal((await store.sync(USER, 'INBOX')).highestModseq, 3);
    assert.deepEqual(await store.addFlags(USER, 'INBOX', uid, ['\\Flagged']), ['\\Flagged', '\\Answered', '\\Seen'], 'the store keeps the foreign letter');
    assert.match((await readdir(cur))[0]!, /:2,FPRS$/);
  }));

test('a file another tool deleted is found as an expunge, once', () =>
  withStore(async (store) => {
    await store.append(USER, 'INBOX', message('a'));
    await store.append(USER, 'INBOX', message('b'));
    const state = await store.sync(USER, 'INBOX');
    for (const m of state.messages) await unlink(m.file);
    assert.deepEqual(await found(store), [{ type: 'expunge', user: USER, mailbox: 'INBOX', uids: '1:2', modseq: 4 }]);
    assert.deepEqual(await found(store), []);
  }));

test('a v1 UID list is upgraded in place: files keep their UIDs, their letters are adopted without announcing', () =>
  withStore(async (store, root) => {
    const userDir = path.join(root, USER);
    await writeFile(path.join(userDir, 'cur', 'a:2,S'), message('a'));
    await writeFile(path.join(userDir, 'new', 'b'), message('b'));
    await writeFile(path.join(userDir, 'updatepipe-uidlist'), 'v1 1234 8\n5 a\n7 b\n');
    assert.deepEqual(await found(store), []);
    const list = await readFile(path.join(userDir, 'updatepipe-uidlist'), 'utf8');
    assert.equal(list, 'v2 1234 8 1 1\n5 1 S a\n7 1 - b\n');
    const s = await store.sync(USER, 'INBOX');
    assert.deepEqual(s.messages.map((m) => [m.uid, m.flags]), [[5, ['\\Seen']], [7, []]]);
    const { modseq } = await store.append(USER, 'INBOX', message('c'));
    assert.equal(modseq, 2, 'modseq goes on from the upgraded list');
  }));

test('modseq: every change takes a higher one; one STORE on many messages takes one', () =>
  withStore(async (store) => {
    const a = await store.append(USER, 'INBOX', message('a'));
    const b = await store.append(USER, 'INBOX', message('b'));
    assert.ok(b.modseq > a.modseq);
    const changes = await store.storeFlags(USER, 'INBOX', [a.uid, b.uid, 99], 'add', ['\\Seen']);
    assert.deepEqual(changes.map((c) => c.uid), [a.uid, b.uid], 'missing UIDs are left out');
    assert.equal(changes[0]!.modseq, changes[1]!.modseq);
    assert.ok(changes[0]!.modseq > b.modseq);
    const again = await store.storeFlags(USER, 'INBOX', [a.uid], 'add', ['\\Seen']);
    assert.deepEqual(again, [{ uid: a.uid, flags: ['\\Seen'], modseq: changes[0]!.modseq, changed: false }]);
    await store.expunge(USER, 'INBOX', UidSet.of(b.uid));
    assert.ok((await store.sync(USER, 'INBOX')).highestModseq > changes[0]!.modseq);
  }));

test('a change is marked in flight until done(); a dead process leaves a marker the watcher resyncs', () =>
  withStore(async (store, root) => {
    await dropIntoNew(root, USER, '1700000001.M1P1.mda', 'theirs');
    const { announcement } = await store.discover(USER, 'INBOX');
    assert.equal((await markers(root)).length, 1);
    assert.deepEqual(await findStaleAnnouncements(root), [], 'its process lives');
    await announcement.done();
    assert.deepEqual(await markers(root), []);

    // A scanner that dies between recording and announcing.
    const child = spawn(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let pid = '';
    child.stdout.on('data', (d: Buffer) => (pid += d.toString()));
    await once(child, 'exit');
    const dir = path.join(root, ANNOUNCING_DIR);
    await writeFile(path.join(dir, `${pid}-dead`), `${pid} ${(await import('node:os')).hostname()} abcdef\n${USER}\nINBOX\n`);
    const stale = await findStaleAnnouncements(root);
    assert.deepEqual(stale.map((s) => [s.user, s.mailbox]), [[USER, 'INBOX']]);
    await stale[0]!.clear();
    assert.deepEqual(await markers(root), []);

    // One that hangs past the age limit counts as stale too; unwritten debris goes without a resync.
    await writeFile(path.join(dir, `${process.pid}-hung`), `${process.pid} somewhere-else 0123\n${USER}\n\n`);
    assert.deepEqual(await findStaleAnnouncements(root, { maxAgeMs: 60_000 }), []);
    assert.deepEqual((await findStaleAnnouncements(root, { maxAgeMs: -1 })).map((s) => [s.user, s.mailbox]), [[USER, undefined]]);
  }));

test("the announce option receives a sync's findings", async () => {
  const got: Announcement[] = [];
  await withStore(async (plain, root) => {
    const store = new MaildirStore(root, { announce: (a) => got.push(a) });
    await plain.append(USER, 'INBOX', message('ours'));
    await store.sync(USER, 'INBOX');
    assert.equal(got.length, 0, 'nothing new');
    await dropIntoNew(root, USER, '1700000001.M1P1.mda', 'theirs');
    const s = await store.sync(USER, 'INBOX');
    assert.equal(got.length, 1);
    assert.equal(got[0]!.updates[0]!.type, 'exists');
    assert.deepEqual(s.messages.map((m) => m.uid), [1, 2]);
    await got[0]!.done();
  });
});

test("folders another tool made, removed or replaced are found; the store's own are not", () =>
  withStore(async (store, root) => {
    const userDir = path.join(root, USER);
    assert.deepEqual((await store.discoverFolders(USER)).updates, [], 'a tree without a record adopts what is there');
    await store.createMailbox(USER, 'Ours');
    for (const d of ['cur', 'new', 'tmp']) await mkdir(path.join(userDir, '.Theirs', d), { recursive: true });
    await mkdir(path.join(userDir, '.Half'), { recursive: true }); // not a Maildir (yet)
    const made = await store.discoverFolders(USER);
    assert.deepEqual(made.updates, [{ type: 'mailbox', user: USER, mailbox: 'Theirs', op: 'create' }]);
    await made.done();
    assert.deepEqual((await store.discoverFolders(USER)).updates, []);
    await rm(path.join(userDir, '.Theirs'), { recursive: true });
    await rm(path.join(userDir, '.Ours'), { recursive: true });
    // Made again a moment later (ext4 hands out the freed inode again at once; the birth
    // time tells them apart from one kernel tick on).
    await new Promise((r) => setTimeout(r, 20));
    for (const d of ['cur', 'new', 'tmp']) await mkdir(path.join(userDir, '.Ours', d), { recursive: true });
    const changed = await store.discoverFolders(USER);
    assert.deepEqual(changed.updates, [
      { type: 'mailbox', user: USER, mailbox: 'Theirs', op: 'delete' },
      { type: 'resync', user: USER, mailbox: 'Ours' },
    ]);
    await changed.done();
  }));

test('symbolic links never lead out of the tree: not as messages, message directories or users', () =>
  withStore(async (store, root) => {
    const userDir = path.join(root, USER);
    await symlink('/etc/passwd', path.join(userDir, 'new', 'evil'));
    const { announcement, odd } = await store.discover(USER, 'INBOX');
    assert.deepEqual(announcement.updates, []);
    assert.deepEqual(odd.map((o) => o.why), ['not a regular file']);
    // A folder whose cur/ is a link to /etc is no mailbox at all.
    await mkdir(path.join(userDir, '.Evil', 'new'), { recursive: true });
    await mkdir(path.join(userDir, '.Evil', 'tmp'), { recursive: true });
    await symlink('/etc', path.join(userDir, '.Evil', 'cur'));
    assert.deepEqual(await store.listMailboxes(USER), ['INBOX']);
    await assert.rejects(store.sync(USER, 'Evil'), isPipeErrorWith('BAD_INPUT', /does not exist/));
    // Nor is a user whose Maildir is a link to another user's.
    await symlink(userDir, path.join(root, 'mallory'));
    await assert.rejects(store.sync('mallory', 'INBOX'), isPipeErrorWith('BAD_INPUT', /does not exist/));
  }));

test('odd files are reported and never stop a scan: empty files, names with newlines or invalid UTF-8', () =>
  withStore(async (store, root) => {
    const newDir = path.join(root, USER, 'new');
    await writeFile(path.join(newDir, '1700000001.M1P1.empty'), '');
    await writeFile(path.join(newDir, 'line\nbreak'), message('newline'));
    await writeFile(Buffer.from(path.join(newDir, 'bad-\xff-utf8'), 'latin1'), message('latin1'));
    await writeFile(path.join(newDir, '1700000002.M1P1.fine'), message('fine'));
    const { announcement, odd } = await store.discover(USER, 'INBOX');
    assert.deepEqual(announcement.updates.map((u) => (u as { uids?: string }).uids), ['1:2'], 'the empty and the fine one are numbered');
    assert.deepEqual(odd.map((o) => o.why).sort(), ['empty', 'unusable name', 'unusable name']);
    await announcement.done();
  }));
