import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../../src/cli/child.js';

let dir = '';
let maildir = '';
let pipe = '';
const mail = (args: string[], input?: string) => runCli(['mail', ...args, '--maildir', maildir, '--pipe', pipe], input === undefined ? {} : { input });

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'up-mail-'));
  maildir = path.join(dir, 'mail');
  pipe = `unix:${path.join(dir, 'nobody.sock')}`;
});
after(() => rm(dir, { recursive: true, force: true }));

test('with no server listening the edit still counts: exit 0, or 3 with --require-listener', async () => {
  const r = await mail(['add', '--user', 'alice', '-'], 'Subject: x\r\n\r\nbody\r\n');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '1');
  assert.match(r.stderr, /no server is listening/);
  const strict = await mail(['add', '--user', 'alice', '--require-listener', '-'], 'Subject: y\r\n\r\nbody\r\n');
  assert.equal(strict.code, 3);
  assert.equal(strict.stdout.trim(), '2', 'the edit was made before the push failed');
  assert.equal((await readdir(path.join(maildir, 'alice', 'new'))).length, 2);
});

test('bad input to mail commands: exit 2 naming the problem, storage untouched', async () => {
  const cases: [string[], string | undefined, RegExp][] = [
    [['flags', '--user', 'alice', '--uid', '1'], undefined, /exactly one of --set, --add, --remove/],
    [['flags', '--user', 'alice', '--uid', '0', '--set', ''], undefined, /--uid/],
    [['flags', '--user', 'alice', '--uid', '1', '--add', 'bad flag'], undefined, /flags/],
    [['flags', '--user', 'alice', '--uid', '99', '--add', '\\Seen'], undefined, /uid 99 does not exist/],
    [['expunge', '--user', 'alice', '--uid', '1:*'], undefined, /uid/],
    [['add', '--user', 'alice', '--mailbox', 'Nope', '-'], 'Subject: z\r\n\r\n', /Nope/],
    [['add', '--user', '../etc', '-'], 'Subject: z\r\n\r\n', /user/],
    [['add', '--user', 'alice', '-'], '', /empty message/],
    [['add', '--user', 'alice', '/nonexistent/file.eml'], undefined, /cannot read/],
    [['delete', '--user', 'alice', '--mailbox', 'INBOX'], undefined, /INBOX cannot be deleted/],
    [['add', '--user', 'alice'], undefined, /missing required argument/],
    [['add', '--user', 'alice', '--flags', '\\Seen,(x', '-'], 'Subject: z\r\n\r\n', /flags/],
  ];
  for (const [args, input, msg] of cases) {
    const r = await mail(args, input);
    assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, msg, args.join(' '));
  }
  assert.equal((await readdir(path.join(maildir, 'alice', 'new'))).length, 2, 'nothing was delivered by the failed commands');
});

test('mailbox create, rename and delete', async () => {
  assert.equal((await mail(['create', '--user', 'alice', '--mailbox', 'Archive/2026'])).code, 0);
  assert.equal((await mail(['create', '--user', 'alice', '--mailbox', 'Archive/2026'])).code, 2, 'exists already');
  assert.equal((await mail(['rename', '--user', 'alice', '--mailbox', 'Archive/2026', '--to', 'Old'])).code, 0);
  assert.equal((await mail(['delete', '--user', 'alice', '--mailbox', 'Old'])).code, 0);
  assert.equal((await mail(['delete', '--user', 'alice', '--mailbox', 'Old'])).code, 2, 'gone already');
});
