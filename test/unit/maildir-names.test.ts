import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ValidationError } from '../../src/errors.js';
import {
  decodeNameComponent,
  encodeNameComponent,
  folderDirNameOf,
  mailboxOfFolderDirName,
  normalizeMailboxName,
} from '../../src/maildir/mailbox-name.js';
import { validateUserName } from '../../src/maildir/user-name.js';

test('folder directory names: readable, escaped, reversible', () => {
  const cases: [string, string][] = [
    ['Archive', '.Archive'],
    ['A/B', '.A.B'],
    ['Entwürfe/Q4 *report* > 1', '.Entw%C3%BCrfe.Q4 *report* > 1'],
    ['v1.2/notes.txt', '.v1%2E2.notes%2Etxt'],
    ['100%', '.100%25'],
    ['.hidden/..', '.%2Ehidden.%2E%2E'],
    ['INBOX/child', '.INBOX.child'],
    ['日本語', '.%E6%97%A5%E6%9C%AC%E8%AA%9E'],
    ['emoji 📬', '.emoji %F0%9F%93%AC'],
  ];
  for (const [name, dir] of cases) {
    assert.equal(folderDirNameOf(normalizeMailboxName(name)), dir, name);
    assert.equal(mailboxOfFolderDirName(dir), name, dir);
  }
});

test('INBOX is case-insensitive as the first component only', () => {
  assert.equal(normalizeMailboxName('inbox'), 'INBOX');
  assert.equal(normalizeMailboxName('Inbox/Sub'), 'INBOX/Sub');
  assert.equal(normalizeMailboxName('Sub/inbox'), 'Sub/inbox');
  assert.throws(() => folderDirNameOf('INBOX'), ValidationError);
});

test('directory names this store would not write are not mailboxes', () => {
  for (const dir of ['cur', 'new', '.', '..', '.a..b', '.a.', '..a', '.INBOX', '.inbox', '.inbox.x', '.a%2eb', '.a%2', '.%C3', '.%41', '.a\u00fcb', '.a%2Fb', '.a%00b', '.a\tb']) {
    assert.equal(mailboxOfFolderDirName(dir), undefined, JSON.stringify(dir));
  }
});

test('a name that begins with U+FEFF round-trips (the decoder does not take it for a byte-order mark)', () => {
  // Found by the property below (seed -1514488861): the directory was read back as no mailbox.
  for (const name of ['\ufeff / ', '\ufeffNotes', 'Work/\ufeffA']) {
    const dir = folderDirNameOf(normalizeMailboxName(name));
    assert.equal(mailboxOfFolderDirName(dir), name, dir);
  }
  assert.equal(decodeNameComponent(encodeNameComponent('\ufeff')), '\ufeff');
});

test('any valid mailbox name round-trips through its directory name', () => {
  const component = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).filter((s) => !s.includes('/') && s.isWellFormed() && !/[\u0000-\u001f\u007f]/.test(s));
  fc.assert(
    fc.property(fc.array(component, { minLength: 1, maxLength: 4 }), (parts) => {
      const encodedBytes = parts.map(encodeNameComponent).join('.').length + 1;
      if (encodedBytes > 255) {
        assert.throws(() => normalizeMailboxName(parts.join('/')), /too long once encoded/);
        return;
      }
      const name = normalizeMailboxName(parts.join('/'));
      if (name === 'INBOX') return;
      const dir = folderDirNameOf(name);
      assert.equal(mailboxOfFolderDirName(dir), name);
      assert.ok(!dir.slice(1).split('.').some((p) => p.length === 0));
      for (const part of parts) assert.equal(decodeNameComponent(encodeNameComponent(part)), part);
    }),
  );
});

test('bad mailbox names are refused with BAD_INPUT naming the field', () => {
  for (const bad of ['', '/', '/a', 'a/', 'a//b', 'a\u0000b', 'a\nb', 'tab\there', 'del\u007f', '\ud800', 'x'.repeat(1025), 'ü'.repeat(90), 42, null]) {
    assert.throws(
      () => normalizeMailboxName(bad),
      (e: unknown) => e instanceof ValidationError && e.code === 'BAD_INPUT' && e.field === 'mailbox',
      JSON.stringify(bad),
    );
  }
});

test('user names that could leave the root are refused', () => {
  for (const bad of ['', '.', '..', '../x', 'a/b', 'a\\b', '.hidden', 'a\u0000b', 'a\nb', '*', 'x'.repeat(256), '\udc00', 7]) {
    assert.throws(() => validateUserName(bad), (e: unknown) => e instanceof ValidationError && e.field === 'user', JSON.stringify(bad));
  }
  for (const good of ['alice', 'bob@example.org', 'jürgen', 'a.b', 'x..y']) assert.equal(validateUserName(good), good);
});
