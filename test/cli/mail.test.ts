import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CliProcess, runCli } from '../../src/cli/child.js';
import { waitFor } from '../helpers/wait.js';

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

test('each mail command pushes the matching update, canonical, once', async () => {
  const sock = `unix:${path.join(dir, 'listened.sock')}`;
  const listener = new CliProcess(['listen', '--pipe', sock, '--json']);
  try {
    await listener.waitStderr('ready');
    const run = async (args: string[], input?: string): Promise<string> => {
      const r = await runCli(['mail', ...args, '--maildir', maildir, '--pipe', sock, '--require-listener'], input === undefined ? {} : { input });
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    await run(['create', '--user', 'bob', '--mailbox', 'Lists/Node']);
    const uid = await run(['add', '--user', 'bob', '--mailbox', 'Lists/Node', '--flags', '\\Seen,$Work', '-'], 'Subject: a\r\n\r\nbody\r\n');
    const uid2 = await run(['add', '--user', 'bob', '--mailbox', 'Lists/Node', '-'], 'Subject: b\r\n\r\nbody\r\n');
    await run(['flags', '--user', 'bob', '--mailbox', 'Lists/Node', '--uid', uid, '--add', '\\Flagged']);
    await run(['flags', '--user', 'bob', '--mailbox', 'Lists/Node', '--uid', uid, '--remove', '\\Seen']);
    await run(['flags', '--user', 'bob', '--mailbox', 'Lists/Node', '--uid', uid2, '--set', '']);
    await run(['expunge', '--user', 'bob', '--mailbox', 'Lists/Node', '--uid', `${uid}:${uid2}`]);
    await run(['rename', '--user', 'bob', '--mailbox', 'Lists/Node', '--to', 'Lists/JS']);
    await run(['delete', '--user', 'bob', '--mailbox', 'Lists/JS']);
    await waitFor(() => listener.lines.length >= 9, 'nine updates');
    const got = listener.lines.map((l) => {
      const { type, user, mailbox, uids, uid, flags, op, to } = JSON.parse(l) as Record<string, unknown>;
      return { type, user, mailbox, uids, uid, flags, op, to };
    });
    const mb = { user: 'bob', mailbox: 'Lists/Node' };
    const clean = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
    assert.deepEqual(got.map(clean), [
      { type: 'mailbox', ...mb, op: 'create' },
      { type: 'exists', ...mb, uids: uid },
      { type: 'exists', ...mb, uids: uid2 },
      { type: 'flags', ...mb, uid: Number(uid), flags: ['\\Flagged', '\\Seen', '$Work'] },
      { type: 'flags', ...mb, uid: Number(uid), flags: ['\\Flagged', '$Work'] },
      { type: 'flags', ...mb, uid: Number(uid2), flags: [] },
      { type: 'expunge', ...mb, uids: `${uid}:${uid2}` },
      { type: 'mailbox', ...mb, op: 'rename', to: 'Lists/JS' },
      { type: 'mailbox', user: 'bob', mailbox: 'Lists/JS', op: 'delete' },
    ]);
  } finally {
    await listener.kill('SIGTERM');
  }
});
