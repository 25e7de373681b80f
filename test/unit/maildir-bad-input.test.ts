import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatMaildirFilename, parseMaildirFilename } from '../../src/maildir/maildir-filename.js';
import { UidSet } from '../../src/update/uid-set.js';
import { isPipeErrorWith, message, USER, withStore } from '../helpers/maildir-fixtures.js';

test('file name parser: hostile names never throw, unknown info means no flags', () => {
  assert.deepEqual(parseMaildirFilename('123.abc.host'), { basename: '123.abc.host', letters: '' });
  assert.deepEqual(parseMaildirFilename('123.abc.host:2,TSRFD'), { basename: '123.abc.host', letters: 'DFRST' });
  assert.deepEqual(parseMaildirFilename('x:2,S?S!zZ9'), { basename: 'x', letters: 'SZz' });
  assert.deepEqual(parseMaildirFilename('x:1,S'), { basename: 'x', letters: '' });
  assert.deepEqual(parseMaildirFilename('x:garbage:2,S'), { basename: 'x', letters: '' });
  assert.deepEqual(parseMaildirFilename('x:'), { basename: 'x', letters: '' });
  assert.equal(parseMaildirFilename('y'.repeat(300) + ':2,S')?.basename.length, 300);
  for (const unusable of ['', ':2,S', '.hidden', 'a\nb', 'a\rb:2,S', 'tab\t', 'bad\uFFFDutf8', 'z'.repeat(1025)]) {
    assert.equal(parseMaildirFilename(unusable), undefined, JSON.stringify(unusable));
  }
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (name) => {
      const parsed = parseMaildirFilename(name);
      if (parsed) assert.equal(parseMaildirFilename(formatMaildirFilename(parsed.basename, parsed.letters))?.letters, parsed.letters);
    }),
  );
});

test('hostile files in cur/ and new/ do not crash sync and are handled sensibly', () =>
  withStore(async (store, root) => {
    const cur = path.join(root, USER, 'cur');
    const names = ['noinfo', 'garbage:info', 'weird:2,ZZ?!s', 'empty:2,', 'both:2,S:extra', 'L'.repeat(250) + ':2,F', '.hidden:2,S', ':2,S'];
    for (const n of names) await writeFile(path.join(cur, n), message(n.slice(0, 20)));
    let newlines = false;
    try {
      await writeFile(path.join(cur, 'line\nbreak:2,S'), 'x');
      newlines = true;
    } catch {
      // Filesystems that refuse such names have nothing to test here.
    }
    await mkdir(path.join(cur, 'a-directory:2,S'));
    await symlink('/etc/passwd', path.join(cur, 'a-symlink:2,S'));
    await writeFile(path.join(root, USER, 'new', 'fresh:2,S'), message('fresh'));

    const state = await store.sync(USER, 'INBOX');
    const byBase = new Map(state.messages.map((m) => [path.basename(m.file).split(':')[0] ?? '', m]));
    assert.deepEqual([...byBase.keys()].sort(), ['L'.repeat(250), 'both', 'empty', 'fresh', 'garbage', 'noinfo', 'weird'].sort());
    assert.deepEqual(byBase.get('noinfo')!.flags, []);
    assert.deepEqual(byBase.get('garbage')!.flags, []);
    assert.deepEqual(byBase.get('weird')!.flags, [], 'unknown letters are no flags');
    assert.deepEqual(byBase.get('both')!.flags, ['\\Seen']);
    assert.deepEqual(byBase.get('L'.repeat(250))!.flags, ['\\Flagged']);
    assert.deepEqual(byBase.get('fresh')!.flags, ['\\Seen']);
    if (newlines) assert.ok(![...byBase.keys()].some((k) => k.includes('\n')));

    // Flag changes on them work; a foreign upper-case letter (Z) is kept in the name.
    const weird = byBase.get('weird')!;
    assert.deepEqual(await store.setFlags(USER, 'INBOX', weird.uid, ['\\Seen']), ['\\Seen']);
    assert.ok((await readdir(cur)).includes('weird:2,SZ'));
    const noinfo = byBase.get('noinfo')!;
    assert.deepEqual(await store.addFlags(USER, 'INBOX', noinfo.uid, ['\\Answered']), ['\\Answered']);
    assert.deepEqual(await store.readMessage(USER, 'INBOX', noinfo.uid), message('noinfo'));
    // Syncing again keeps every UID.
    assert.deepEqual((await store.sync(USER, 'INBOX')).messages.map((m) => m.uid), state.messages.map((m) => m.uid));
  }));

test('bad user and mailbox names are refused before touching the disk', () =>
  withStore(async (store, root) => {
    for (const user of ['..', '.', 'a/b', '', '../alice', 'a\u0000b', '.alice']) {
      await assert.rejects(store.ensureUser(user), isPipeErrorWith('BAD_INPUT', /^user: /), JSON.stringify(user));
      await assert.rejects(store.sync(user, 'INBOX'), isPipeErrorWith('BAD_INPUT', /^user: /), JSON.stringify(user));
      await assert.rejects(store.append(user, 'INBOX', message('x')), isPipeErrorWith('BAD_INPUT', /^user: /));
    }
    for (const mailbox of ['', 'a\u0000b', 'bell\u0007', 'line\nbreak', '/abs', 'a//b', 'trailing/', '\udfff']) {
      await assert.rejects(store.createMailbox(USER, mailbox), isPipeErrorWith('BAD_INPUT', /^mailbox: /), JSON.stringify(mailbox));
      await assert.rejects(store.sync(USER, mailbox), isPipeErrorWith('BAD_INPUT', /^mailbox: /), JSON.stringify(mailbox));
      await assert.rejects(store.renameMailbox(USER, 'INBOX/x', mailbox), isPipeErrorWith('BAD_INPUT', /^to: /));
    }
    await assert.rejects(store.createMailbox(USER, 'ü'.repeat(100)), isPipeErrorWith('BAD_INPUT', /too long once encoded/));
    assert.deepEqual((await readdir(root)).sort(), [USER]);
    assert.deepEqual(await store.listMailboxes(USER), ['INBOX']);
  }));

test('bad flags, UIDs and dates are refused', () =>
  withStore(async (store) => {
    const { uid } = await store.append(USER, 'INBOX', message('x'));
    for (const flags of [['\\Foo'], ['two words'], [''], ['(paren'], ['ü'], [42 as unknown as string], ['k'.repeat(257)]]) {
      await assert.rejects(store.setFlags(USER, 'INBOX', uid, flags), isPipeErrorWith('BAD_INPUT', /^flags: /), JSON.stringify(flags));
      await assert.rejects(store.append(USER, 'INBOX', message('y'), flags), isPipeErrorWith('BAD_INPUT', /^flags: /));
    }
    for (const bad of [0, -1, 1.5, 2 ** 32, Number.NaN]) {
      await assert.rejects(store.setFlags(USER, 'INBOX', bad, []), isPipeErrorWith('BAD_INPUT', /^uid: /));
      await assert.rejects(store.readMessage(USER, 'INBOX', bad), isPipeErrorWith('BAD_INPUT', /^uid: /));
    }
    await assert.rejects(store.append(USER, 'INBOX', message('z'), [], new Date('nope')), isPipeErrorWith('BAD_INPUT', /^internalDate: /));
    assert.deepEqual((await store.sync(USER, 'INBOX')).messages.map((m) => m.uid), [uid], 'nothing was added by refused appends');
  }));

/** `valid` is "v2 <uidvalidity> 4 <modseq> 1\n1 <modseq> S <a>\n3 <modseq> - <b>\nx <modseq> 2\n" (message 2 was expunged). */
const lines = (v: string): string[] => v.slice(0, -1).split('\n');
const corruptions: [string, (valid: string) => string][] = [
  ['truncated mid-line', (v) => v.slice(0, -3)],
  ['empty', () => ''],
  ['binary garbage', () => '\u0000\u00ff\u0001garbage\n'],
  ['bad header', (v) => v.replace(/^v2/, 'v9')],
  ['uid not below uidnext', (v) => v.replace(/^v2 (\d+) \d+/, 'v2 $1 3')],
  ['uids out of order', (v) => [lines(v)[0], lines(v)[2], lines(v)[1]].join('\n') + '\n'],
  ['repeated file name', (v) => v.replace(/^v2 (\d+) \d+/, 'v2 $1 99') + `9 1 - ${lines(v)[1]!.split(' ')[3]}\n`],
  ['uidnext beyond 32 bits', (v) => v.replace(/^v2 (\d+) \d+/, 'v2 $1 4294967297')],
  ['modseq above the highest', (v) => v.replace(/^(v2 \d+ \d+ \d+ \d+)\n(\d+) \d+/, '$1\n$2 999999')],
  ['an expunge record above the highest modseq', (v) => v + 'x 999999 2\n'],
  ['a message after the expunge records', (v) => v.replace(/\n(x [^\n]*\n)$/, '\n$1') + '8 1 - late\n'],
  ['a floor above the highest modseq', (v) => v.replace(/^(v2 \d+ \d+ )(\d+) \d+/, '$1$2 99999999')],
  ['flag letters out of order', (v) => v.replace(/\n1 (\d+) S /, '\n1 $1 SF ')],
  ['v1 entry in a v2 list', (v) => v + `9 x\n`],
  ['a stray line', (v) => v + 'hello world\n'],
];

for (const [what, corrupt] of corruptions) {
  test(`a corrupt UID list (${what}) is set aside and the mailbox renumbered under a new UIDVALIDITY`, () =>
    withStore(async (store, root) => {
      for (let i = 0; i < 3; i++) await store.append(USER, 'INBOX', message(`m${i}`), i === 0 ? ['\\Seen'] : undefined);
      await store.expunge(USER, 'INBOX', UidSet.of(2));
      const before = await store.sync(USER, 'INBOX');
      const listFile = path.join(root, USER, 'updatepipe-uidlist');
      const valid = await readFile(listFile, 'utf8');
      await writeFile(listFile, corrupt(valid));
      const after = await store.sync(USER, 'INBOX');
      assert.notEqual(after.uidValidity, before.uidValidity);
      assert.deepEqual(after.messages.map((m) => m.uid), [1, 2]);
      assert.deepEqual(after.messages.map((m) => m.file).sort(), before.messages.map((m) => m.file).sort());
      assert.equal(await readFile(listFile + '.corrupt', 'utf8'), corrupt(valid));
      assert.deepEqual(await store.sync(USER, 'INBOX'), after, 'stable afterwards');
    }));
}

test('a garbage keywords file is read leniently', () =>
  withStore(async (store, root) => {
    await writeFile(path.join(root, USER, 'updatepipe-keywords'), '0 $Forwarded\nnonsense\n99 far\n0 dup\n1 has space\n2 \u0000\n3 work\n');
    await store.ensureUser(USER);
    await writeFile(path.join(root, USER, 'cur', 'k:2,abcd'), message('k'));
    const [m] = (await store.sync(USER, 'INBOX')).messages;
    assert.deepEqual(m!.flags, ['$Forwarded', 'work']);
    // A new keyword takes the first free letter.
    assert.deepEqual(await store.addFlags(USER, 'INBOX', m!.uid, ['new']), ['$Forwarded', 'new', 'work']);
    assert.match(await readFile(path.join(root, USER, 'updatepipe-keywords'), 'utf8'), /^0 \$Forwarded\n1 new\n3 work\n$/);
  }));
