import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { UnixPipe } from '../../pipes/unix/unix-pipe.js';
import { ImapServer } from '../../src/imap/server.js';
import { parseUsers } from '../../src/imap/users.js';
import { MaildirStore } from '../../src/maildir/maildir-store.js';
import { Recorder } from '../helpers/recorder.js';
import { waitFor } from '../helpers/wait.js';

let dir = '';
let store: MaildirStore;
let listener: UnixPipe;
const seen = new Recorder();
const servers: ImapServer[] = [];

async function start(): Promise<number> {
  const server = new ImapServer({ maildir: store.root, watch: false, users: parseUsers('alice:secret\n'), pipe: new UnixPipe(`unix:${path.join(dir, 'pipe.sock')}`) });
  servers.push(server);
  return (await server.listen('127.0.0.1', 0)).port;
}

async function session(port: number): Promise<(cmd: string) => Promise<string>> {
  const s = net.connect(port, '127.0.0.1');
  let text = '';
  let n = 0;
  s.on('data', (d: Buffer) => (text += d.toString('latin1')));
  await waitFor(() => text.startsWith('* OK'), 'greeting');
  const run = async (cmd: string): Promise<string> => {
    const tag = `t${++n}`;
    const from = text.length;
    s.write(`${tag} ${cmd}\r\n`);
    await waitFor(() => new RegExp(`(^|\\n)${tag} (OK|NO|BAD)`).test(text.slice(from)), `answer to ${cmd}`);
    return text.slice(from);
  };
  assert.match(await run('LOGIN alice secret'), /OK/);
  return run;
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'up-imap-subs-'));
  store = new MaildirStore(path.join(dir, 'mail'));
  listener = new UnixPipe(`unix:${path.join(dir, 'pipe.sock')}`);
  await listener.listen(seen.handler);
});
after(async () => {
  for (const s of servers) await s.close();
  await listener.close();
  await rm(dir, { recursive: true, force: true });
});

test('SUBSCRIBE and UNSUBSCRIBE change the stored list, push a mailbox update once per change, and outlive the server', async () => {
  const run = await session(await start());
  assert.match(await run('CREATE Work/Projects'), /OK/);
  assert.match(await run('SUBSCRIBE Nowhere'), /NO \[NONEXISTENT\]/, 'only existing mailboxes');
  assert.match(await run('SUBSCRIBE Work/Projects'), /OK/);
  assert.match(await run('SUBSCRIBE Work/Projects'), /OK/, 'again: fine, and no second update');
  assert.match(await run('SUBSCRIBE inbox'), /OK/);
  await waitFor(() => seen.updates.filter((r) => r.u.type === 'mailbox' && r.u.op === 'subscribe').length >= 2, 'subscribe updates');
  assert.deepEqual(
    seen.updates.filter((r) => r.u.type === 'mailbox' && r.u.op === 'subscribe').map((r) => r.u.type === 'mailbox' && r.u.mailbox),
    ['Work/Projects', 'INBOX'],
  );
  assert.deepEqual(await (await store.subscriptions('alice')).list(), ['Work/Projects', 'INBOX']);
  assert.match(await run('LSUB "" "*"'), /^\* LSUB \(\) "\/" "Work\/Projects"\r\n\* LSUB \(\) "\/" "INBOX"\r\nt\d+ OK LSUB completed\r\n$/);
  assert.match(await run('LSUB "" "%"'), /\* LSUB \(\\Noselect\) "\/" "Work"\r\n/, '% stops at a level that is not subscribed itself');

  const again = await session(await start());
  assert.match(await again('LIST (SUBSCRIBED) "" "*"'), /^\* LIST \(\\Subscribed\) "\/" "Work\/Projects"\r\n\* LIST \(\\Subscribed\) "\/" "INBOX"\r\n/);
  assert.match(await again('UNSUBSCRIBE Work/Projects'), /OK/);
  assert.match(await again('UNSUBSCRIBE Work/Projects'), /OK/);
  await waitFor(() => seen.updates.some((r) => r.u.type === 'mailbox' && r.u.op === 'unsubscribe'), 'unsubscribe update');
  assert.equal(seen.updates.filter((r) => r.u.type === 'mailbox' && r.u.op === 'unsubscribe').length, 1);
  assert.doesNotMatch(await run('LSUB "" "*"'), /Work/, 'the first server sees the change too (it is in storage)');
});

test('LIST-EXTENDED: selection and return options, several patterns; what it does not know is BAD', async () => {
  const run = await session(await start());
  assert.match(await run('CREATE Lists/A'), /OK/);
  assert.match(await run('SUBSCRIBE Lists/A'), /OK/);
  assert.match(await run('LIST (SUBSCRIBED RECURSIVEMATCH) "" "Lists"'), /^\* LIST \(\) "\/" "Lists" \(CHILDINFO \("SUBSCRIBED"\)\)\r\nt\d+ OK LIST completed\r\n$/);
  const both = await run('LIST "" ("Lists" "INBOX") RETURN (CHILDREN SUBSCRIBED)');
  assert.match(both, /\* LIST \(\\HasChildren\) "\/" "Lists"\r\n/);
  assert.match(both, /\* LIST \(\\Subscribed \\HasNoChildren\) "\/" "INBOX"\r\n/);
  assert.match(await run('LIST "" "Lists/*" RETURN (SUBSCRIBED)'), /\* LIST \(\\Subscribed\) "\/" "Lists\/A"\r\n/);
  for (const bad of ['LIST (RECURSIVEMATCH) "" "*"', 'LIST (BOGUS) "" "*"', 'LIST "" "*" RETURN (STATUS (MESSAGES))', 'LIST "" "*" RETURN', 'LIST "" "*" extra', 'LIST "" ()']) {
    assert.match(await run(bad), /t\d+ BAD/, bad);
  }
});
