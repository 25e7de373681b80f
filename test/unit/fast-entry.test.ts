import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFastMail } from '../../src/cli/mail-entry.js';
import { parseFastPush } from '../../src/cli/push-entry.js';

const base = { maildir: '/m', user: 'alice', mailbox: 'INBOX', pipe: 'unix:/s.sock', requireListener: false };

test('mail fast path: the well-formed lines, with the defaults commander gives', () => {
  assert.deepEqual(parseFastMail(['mail', 'add', '--maildir', '/m', '--user', 'alice', '--pipe', 'unix:/s.sock', '-']), {
    action: 'add',
    args: { ...base, file: '-' },
  });
  assert.deepEqual(parseFastMail(['mail', 'add', '--maildir=/m', '--user=alice', '--pipe=unix:/s.sock', '--flags', '\\Seen,$X', '--require-listener', 'msg.eml']), {
    action: 'add',
    args: { ...base, flags: '\\Seen,$X', requireListener: true, file: 'msg.eml' },
  });
  assert.deepEqual(parseFastMail(['mail', 'flags', '--maildir', '/m', '--user', 'alice', '--pipe', 'unix:/s.sock', '--uid', '5', '--set', '']), {
    action: 'flags',
    args: { ...base, uid: '5', set: '' },
  });
  assert.deepEqual(parseFastMail(['mail', 'rename', '--maildir', '/m', '--user', 'alice', '--pipe', 'unix:/s.sock', '--mailbox', 'A', '--to', 'B']), {
    action: 'rename',
    args: { ...base, mailbox: 'A', to: 'B' },
  });
  const env = process.env.UPDATEPIPE_URL;
  process.env.UPDATEPIPE_URL = 'unix:/env.sock';
  try {
    assert.equal(parseFastMail(['mail', 'expunge', '--maildir', '/m', '--user', 'alice', '--uid', '3:5'])?.args.pipe, 'unix:/env.sock');
  } finally {
    if (env === undefined) delete process.env.UPDATEPIPE_URL;
    else process.env.UPDATEPIPE_URL = env;
  }
});

test('mail fast path: anything commander must explain goes the full way', () => {
  const ok = ['--maildir', '/m', '--user', 'alice'];
  const slow: string[][] = [
    ['mail'],
    ['mail', 'move', ...ok],
    ['mail', 'add', ...ok, '--help', '-'],
    ['mail', 'add', ...ok], // no file
    ['mail', 'add', ...ok, 'a', 'b'],
    ['mail', 'add', '--user', 'alice', '-'], // no --maildir
    ['mail', 'add', ...ok, '--user', 'bob', '-'], // repeated
    ['mail', 'add', ...ok, '--uid', '1', '-'], // not an option of add
    ['mail', 'add', ...ok, '--pipe'], // value missing
    ['mail', 'flags', ...ok, '--set', '\\Seen'], // no --uid
    ['mail', 'create', ...ok], // no --mailbox
    ['mail', 'rename', ...ok, '--mailbox', 'A'], // no --to
    ['mail', 'add', ...ok, '-x', '-'],
  ];
  for (const argv of slow) assert.equal(parseFastMail(argv), null, argv.join(' '));
});

test('push fast path: updates and --pipe; help and unknown options go the full way', () => {
  assert.deepEqual(parseFastPush(['push', '--pipe', 'unix:/s.sock', '{}', '-v']), { pipe: 'unix:/s.sock', verbose: true, updates: ['{}'] });
  assert.deepEqual(parseFastPush(['push', '--', '--x']), { verbose: false, updates: ['--x'] });
  assert.equal(parseFastPush(['push', '--help']), null);
  assert.equal(parseFastPush(['push', '--pipe']), null);
});
