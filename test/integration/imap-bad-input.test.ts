import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ImapServer } from '../../src/imap/server.js';
import { parseUsers } from '../../src/imap/users.js';
import { waitFor } from '../helpers/wait.js';

let dir = '';
let server: ImapServer;
let port = 0;

/** A raw IMAP connection that records everything the server says. */
class Raw {
  text = '';
  closed = false;
  readonly s: net.Socket;
  constructor() {
    this.s = net.connect(port, '127.0.0.1');
    this.s.on('data', (d: Buffer) => (this.text += d.toString('latin1')));
    this.s.on('close', () => (this.closed = true));
    this.s.on('error', () => {});
  }
  send(x: string | Buffer): void {
    this.s.write(x);
  }
  async expect(re: RegExp, what = re.source): Promise<void> {
    await waitFor(() => re.test(this.text), `server to say ${what}; got: ${this.text.slice(-300)}`, 5_000);
  }
  async login(): Promise<void> {
    await this.expect(/^\* OK/);
    this.send('l1 LOGIN alice secret\r\n');
    await this.expect(/l1 OK/);
  }
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'up-imap-bad-'));
  server = new ImapServer({
    maildir: path.join(dir, 'mail'),
    users: parseUsers('alice:secret\n'),
    pipe: null,
    limits: { maxLine: 8192, maxLiteral: 1024, maxAppendLiteral: 100_000 },
  });
  port = (await server.listen('127.0.0.1', 0)).port;
});
after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

test('garbage, missing tags and unknown commands get BAD; the connection goes on', async () => {
  const c = new Raw();
  await c.expect(/^\* OK/);
  c.send('\r\n');
  c.send(Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x0d, 0x0a]));
  c.send('a1 FROBNICATE\r\n');
  c.send('a2 "unterminated\r\n');
  c.send('a3 SELECT INBOX\r\n');
  c.send('a4 NOOP\r\n');
  await c.expect(/a4 OK/);
  assert.match(c.text, /a1 BAD/);
  assert.match(c.text, /a2 BAD/);
  assert.match(c.text, /a3 BAD SELECT not allowed before LOGIN/);
  assert.equal(c.closed, false);
  c.s.destroy();
});

test('literal caps: a refused synchronizing literal costs nothing, LITERAL+ is read past', async () => {
  const c = new Raw();
  await c.login();
  c.send('b1 LOGIN {5000}\r\n');
  await c.expect(/b1 BAD literal of 5000 bytes/);
  c.send(`b2 SEARCH TEXT {5000+}\r\n${'z'.repeat(5000)}\r\nb3 NOOP\r\n`);
  await c.expect(/b3 OK/);
  assert.match(c.text, /b2 BAD literal/);
  c.send('b4 APPEND INBOX {200000}\r\n');
  await c.expect(/b4 BAD literal of 200000 bytes is over the 100000-byte limit/);
  c.s.destroy();
});

test('a line over the cap ends the connection with BYE; the server keeps serving', async () => {
  const c = new Raw();
  await c.expect(/^\* OK/);
  c.send('c1 NOOP ' + 'x'.repeat(20_000));
  await c.expect(/\* BYE line too long/);
  await waitFor(() => c.closed, 'connection closed');
  const d = new Raw();
  await d.login();
  d.s.destroy();
});

test('three failed logins: BYE and disconnect', async () => {
  const c = new Raw();
  await c.expect(/^\* OK/);
  for (let i = 1; i <= 3; i++) c.send(`f${i} LOGIN alice wrong${i}\r\n`);
  await c.expect(/f3 NO/);
  await c.expect(/\* BYE Too many failed logins/);
  await waitFor(() => c.closed, 'disconnect');
  assert.doesNotMatch(c.text, /OK logged in/);
});

test('AUTHENTICATE PLAIN: good, malformed and cancelled', async () => {
  const c = new Raw();
  await c.expect(/^\* OK/);
  c.send('p1 AUTHENTICATE PLAIN\r\n');
  await c.expect(/\+ \r\n/);
  c.send('*\r\n');
  await c.expect(/p1 BAD authentication cancelled/);
  c.send('p2 AUTHENTICATE PLAIN !!!notbase64\r\n');
  await c.expect(/p2 BAD malformed/);
  c.send(`p3 AUTHENTICATE PLAIN ${Buffer.from('\0alice\0secret').toString('base64')}\r\n`);
  await c.expect(/p3 OK/);
  c.s.destroy();
});

test('bad arguments in the selected state: BAD, never a crash', async () => {
  const c = new Raw();
  await c.login();
  c.send('s1 SELECT INBOX\r\n');
  await c.expect(/s1 OK/);
  const bad = ['FETCH 0 FLAGS', 'FETCH 1:x FLAGS', 'FETCH 1 (BODY[)', 'STORE 1 BOGUS (\\Seen)', 'STORE 1 +FLAGS ((x', 'SEARCH FROB', 'UID FROB 1', 'COPY', 'SEARCH SINCE yesterday', 'FETCH * ENVELOPE extra'];
  bad.forEach((cmd, i) => c.send(`x${i} ${cmd}\r\n`));
  c.send('x99 NOOP\r\n');
  await c.expect(/x99 OK/);
  bad.forEach((cmd, i) => assert.match(c.text, new RegExp(`x${i} (BAD|NO)`), cmd));
  c.s.destroy();
});

test('IDLE: anything but DONE is refused, DONE ends it', async () => {
  const c = new Raw();
  await c.login();
  c.send('i0 SELECT INBOX\r\ni1 IDLE\r\n');
  await c.expect(/\+ idling/);
  c.send('NOOP\r\n');
  await c.expect(/i1 BAD expected DONE/);
  c.send('DONE\r\n');
  await c.expect(/i1 OK IDLE terminated/);
  c.s.destroy();
});

test('1,000 connections opened and dropped: the server still answers', async () => {
  for (let round = 0; round < 10; round++) {
    await Promise.all(
      Array.from({ length: 100 }, () => new Promise<void>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.write('z LOGIN alice');
          s.destroy();
          resolve();
        });
        s.on('error', () => resolve());
      })),
    );
  }
  const c = new Raw();
  await c.login();
  c.s.destroy();
});
