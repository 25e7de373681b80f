import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ImapServer } from '../../src/imap/server.js';
import { parseUsers } from '../../src/imap/users.js';
import { MaildirStore } from '../../src/maildir/maildir-store.js';
import { message } from '../helpers/imap-fixture.js';
import { waitFor } from '../helpers/wait.js';

let dir = '';
let store: MaildirStore;
let server: ImapServer;
let port = 0;

/** A raw IMAP session: `run` sends one command and returns everything up to its tagged reply. */
class Session {
  private text = '';
  private n = 0;
  readonly s: net.Socket;
  constructor() {
    this.s = net.connect(port, '127.0.0.1');
    this.s.on('data', (d: Buffer) => (this.text += d.toString('latin1')));
    this.s.on('error', () => {});
  }
  async run(command: string): Promise<string> {
    const tag = `t${++this.n}`;
    const from = this.text.length;
    this.s.write(`${tag} ${command}\r\n`);
    const done = new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r]*\\r\\n`);
    await waitFor(() => done.test(this.text.slice(from)), `reply to ${command}; got: ${this.text.slice(from).slice(-300)}`, 5_000);
    return this.text.slice(from);
  }
  static async open(): Promise<Session> {
    const c = new Session();
    await waitFor(() => c.text.startsWith('* OK'), 'greeting');
    assert.match(await c.run('LOGIN alice secret'), /OK/);
    return c;
  }
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'up-imap-cmd-'));
  store = new MaildirStore(path.join(dir, 'mail'));
  await store.ensureUser('alice');
  for (let i = 1; i <= 3; i++) await store.append('alice', 'INBOX', Buffer.from(message(`hello ${i}`)), i === 1 ? ['\\Seen'] : []);
  server = new ImapServer({ maildir: path.join(dir, 'mail'), users: parseUsers('alice:secret\n'), pipe: null });
  port = (await server.listen('127.0.0.1', 0)).port;
});
after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

test('CREATE makes missing superiors; LIST shows every level; RENAME and DELETE of a parent', async () => {
  const c = await Session.open();
  assert.match(await c.run('CREATE Work/Sub/Deep'), /OK/);
  const top = await c.run('LIST "" "%"');
  assert.match(top, /\* LIST \(\\HasNoChildren\) "\/" "?INBOX"?/);
  assert.match(top, /\* LIST \(\\HasChildren\) "\/" "?Work"?\r\n/);
  assert.doesNotMatch(top, /Sub/, '% stops at one level');
  const all = await c.run('LIST "" "*"');
  assert.deepEqual(
    [...all.matchAll(/\* LIST \([^)]*\) "\/" "?([^"\r]+)"?\r\n/g)].map((m) => m[1]),
    ['INBOX', 'Work', 'Work/Sub', 'Work/Sub/Deep'],
  );
  assert.match(await c.run('RENAME Work Projects'), /OK/);
  assert.match(await c.run('LIST "" "Projects/*"'), /Projects\/Sub\/Deep/);
  // Deleting a parent keeps its children (Maildir++ folders are flat): it stays listed, \Noselect.
  assert.match(await c.run('DELETE Projects/Sub'), /OK/);
  const after = await c.run('LIST "" "Projects/*"');
  assert.match(after, /\* LIST \(\\HasChildren \\Noselect\) "\/" "?Projects\/Sub"?\r\n/);
  assert.match(after, /Projects\/Sub\/Deep/);
  assert.match(await c.run('SELECT Projects/Sub'), /NO/);
  c.s.destroy();
});

test('STATUS, EXAMINE, FETCH of ENVELOPE and BODY[], SEARCH, COPY', async () => {
  const c = await Session.open();
  assert.match(await c.run('STATUS INBOX (MESSAGES UNSEEN UIDNEXT)'), /\* STATUS "?INBOX"? \(MESSAGES 3 UNSEEN 2 UIDNEXT 4\)/);
  const ex = await c.run('EXAMINE INBOX');
  assert.match(ex, /\* 3 EXISTS/);
  assert.match(ex, /OK \[READ-ONLY\]/);
  assert.match(await c.run('STORE 1 +FLAGS (\\Flagged)'), /NO \[READ-ONLY\]/);
  assert.match(await c.run('SELECT INBOX'), /OK \[READ-WRITE\]/);
  const env = await c.run('FETCH 2 (UID ENVELOPE)');
  assert.match(env, /\* 2 FETCH \(UID 2 ENVELOPE \("Sun, 22 Nov 2026 10:00:00 \+0000" "hello 2"/);
  const body = await c.run('UID FETCH 3 (BODY.PEEK[])');
  assert.match(body, /BODY\[\] \{\d+\}\r\nFrom: Bob/);
  assert.match(body, /Subject: hello 3/);
  assert.match(await c.run('SEARCH UNSEEN'), /\* SEARCH 2 3\r\n/);
  assert.match(await c.run('UID SEARCH SUBJECT "hello 1"'), /\* SEARCH 1\r\n/);
  assert.match(await c.run('CREATE Copies'), /OK/);
  assert.match(await c.run('COPY 1:2 Copies'), /OK/);
  assert.match(await c.run('STATUS Copies (MESSAGES)'), /MESSAGES 2/);
  c.s.destroy();
});

test('an EXPUNGE made by another session waits while FETCH, STORE and SEARCH run, then comes on NOOP', async () => {
  await store.append('alice', 'INBOX', Buffer.from(message('doomed')));
  const a = await Session.open();
  const b = await Session.open();
  const sel = await a.run('SELECT INBOX');
  const count = Number(/\* (\d+) EXISTS/.exec(sel)![1]);
  await b.run('SELECT INBOX');
  assert.match(await b.run(`STORE ${count} +FLAGS.SILENT (\\Deleted)`), /OK/);
  assert.match(await b.run('EXPUNGE'), new RegExp(`\\* ${count} EXPUNGE`));
  for (const cmd of ['FETCH 1 (FLAGS)', 'STORE 1 -FLAGS.SILENT (\\Answered)', 'SEARCH ALL']) {
    assert.doesNotMatch(await a.run(cmd), /EXPUNGE/, `no EXPUNGE during ${cmd.split(' ')[0]}`);
  }
  const search = await a.run('SEARCH ALL');
  assert.match(search, new RegExp(`\\* SEARCH [\\d ]*\\b${count - 1}\\r\\n`), 'SEARCH leaves the gone message out but keeps the numbers');
  const noop = await a.run('NOOP');
  assert.match(noop, new RegExp(`\\* ${count} EXPUNGE\\r\\n`));
  assert.equal([...noop.matchAll(/EXPUNGE/g)].length, 1, 'once');
  assert.doesNotMatch(await a.run('NOOP'), /EXPUNGE/);
  a.s.destroy();
  b.s.destroy();
});

test('a keyword new to the mailbox comes with FLAGS and PERMANENTFLAGS once, before the FETCH; one that cannot be stored does not', async () => {
  const c = await Session.open();
  assert.match(await c.run('CREATE Keywords'), /OK/);
  assert.match(await c.run('APPEND Keywords {10+}\r\nSubject: k'), /OK/);
  const sel = await c.run('SELECT Keywords');
  assert.match(sel, /\* FLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft\)\r\n/);
  const first = await c.run('STORE 1 +FLAGS ($Todo)');
  assert.match(first, /^\* FLAGS \([^)]*\$Todo\)\r\n\* OK \[PERMANENTFLAGS \([^)]*\$Todo \\\*\)\][^\r]*\r\n\* 1 FETCH \(FLAGS \(\$Todo\)\)\r\n/);
  assert.doesNotMatch(await c.run('STORE 1 +FLAGS ($todo)'), /\* FLAGS/, 'keywords compare without case');
  assert.doesNotMatch(await c.run('STORE 1 -FLAGS ($Todo)'), /\* FLAGS/);
  for (let i = 0; i < 25; i++) assert.match(await c.run(`STORE 1 +FLAGS.SILENT (k${i})`), /OK/);
  const full = await c.run('STORE 1 +FLAGS (one-too-many)');
  assert.match(full, /NO/, 'a mailbox holds 26 keywords');
  assert.doesNotMatch(full, /one-too-many\)/, 'and the refused one was not announced');
  assert.match(await c.run('SELECT Keywords'), /\* FLAGS \([^)]*\$Todo k0 [^)]*k24\)\r\n/, 'FLAGS on SELECT lists the mailbox\'s keywords, used or not');
  c.s.destroy();
});
