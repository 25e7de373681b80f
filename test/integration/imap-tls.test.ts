import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { ImapServer } from '../../src/imap/server.js';
import { TlsCredentials } from '../../src/imap/tls.js';
import { parseUsers } from '../../src/imap/users.js';
import { MaildirStore } from '../../src/maildir/maildir-store.js';
import { message } from '../helpers/imap-fixture.js';
import { fingerprintOf, makeCert, type TestCert } from '../helpers/tls-certs.js';
import { waitFor } from '../helpers/wait.js';

let dir = '';
let cert: TestCert;
let store: MaildirStore;
/** Certificate, STARTTLS required for login, and an implicit TLS listener. */
let strict: ImapServer;
let port = 0;
let tlsPort = 0;
/** Certificate with --allow-plaintext. */
let lenient: ImapServer;
let lenientPort = 0;

/** A raw client: plaintext first, TLS after `upgrade()`; records what each phase received. */
class Client {
  plain = '';
  secure = '';
  closed = false;
  private s: net.Socket;
  private tlsSocket: tls.TLSSocket | null = null;

  constructor(p: number) {
    this.s = net.connect(p, '127.0.0.1');
    this.s.on('data', (d: Buffer) => (this.plain += d.toString('latin1')));
    this.s.on('close', () => (this.closed = true));
    this.s.on('error', () => {});
  }

  get text(): string {
    return this.tlsSocket ? this.secure : this.plain;
  }

  send(x: string): void {
    (this.tlsSocket ?? this.s).write(x);
  }

  async expect(re: RegExp): Promise<string> {
    await waitFor(() => re.test(this.text), `server to say ${re.source}; got: ${this.text.slice(-400)}`, 5_000);
    return this.text;
  }

  async upgrade(): Promise<tls.TLSSocket> {
    this.s.removeAllListeners('data');
    const t = tls.connect({ socket: this.s, ca: cert.pem });
    await new Promise<void>((resolve, reject) => {
      t.once('secureConnect', resolve);
      t.once('error', reject);
    });
    t.on('data', (d: Buffer) => (this.secure += d.toString('latin1')));
    this.tlsSocket = t;
    return t;
  }

  close(): void {
    (this.tlsSocket ?? this.s).destroy();
  }
}

function tlsConnect(p: number, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const t = tls.connect({ port: p, host: '127.0.0.1', ca: cert.pem, ...options }, () => resolve(t));
    t.once('error', reject);
  });
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'up-imap-tls-'));
  cert = makeCert(dir);
  store = new MaildirStore(path.join(dir, 'mail'));
  await store.ensureUser('alice');
  await store.append('alice', 'INBOX', Buffer.from(message('over TLS')));
  const creds = await TlsCredentials.load({ cert: cert.cert, key: cert.key });
  const users = parseUsers('alice:secret\n');
  strict = new ImapServer({ maildir: store.root, watch: false, users, pipe: null, tls: creds });
  port = (await strict.listen('127.0.0.1', 0)).port;
  tlsPort = (await strict.listenTls('127.0.0.1', 0)).port;
  lenient = new ImapServer({ maildir: store.root, watch: false, users, pipe: null, tls: creds, allowPlaintext: true });
  lenientPort = (await lenient.listen('127.0.0.1', 0)).port;
});
after(async () => {
  await strict.close();
  await lenient.close();
  await rm(dir, { recursive: true, force: true });
});

test('with a certificate the plain port offers STARTTLS and refuses credentials until TLS is up', async () => {
  const c = new Client(port);
  const greeting = await c.expect(/^\* OK .*\r\n/);
  assert.match(greeting, /\[CAPABILITY [^\]]*\bSTARTTLS\b[^\]]*\bLOGINDISABLED\b/);
  assert.doesNotMatch(greeting, /AUTH=PLAIN/, 'no mechanism is offered where it may not be used');
  c.send('a1 LOGIN alice secret\r\n');
  await c.expect(/a1 NO \[PRIVACYREQUIRED\]/);
  c.send(`a2 AUTHENTICATE PLAIN ${Buffer.from('\0alice\0secret').toString('base64')}\r\n`);
  await c.expect(/a2 NO \[PRIVACYREQUIRED\]/);
  c.send('a3 AUTHENTICATE PLAIN\r\n');
  const refused = await c.expect(/a3 NO \[PRIVACYREQUIRED\]/);
  assert.doesNotMatch(refused, /^\+/m, 'no continuation: credentials are not even asked for');
  c.send('a4 STARTTLS\r\n');
  await c.expect(/a4 OK/);
  const t = await c.upgrade();
  assert.ok(['TLSv1.2', 'TLSv1.3'].includes(t.getProtocol() ?? ''), `negotiated ${t.getProtocol()}`);
  assert.equal(fingerprintOf(t.getPeerCertificate().raw), cert.fingerprint);
  c.send('a5 CAPABILITY\r\n');
  const caps = await c.expect(/a5 OK/);
  assert.match(caps, /\* CAPABILITY .*AUTH=PLAIN/);
  assert.doesNotMatch(caps, /STARTTLS|LOGINDISABLED/);
  c.send('a6 STARTTLS\r\n');
  await c.expect(/a6 BAD/);
  c.send('a7 LOGIN alice secret\r\na8 SELECT INBOX\r\n');
  await c.expect(/a8 OK \[READ-WRITE\]/);
  c.close();
});

test('STARTTLS drops commands pipelined after it in plaintext (CVE-2011-0411 class)', async () => {
  for (const split of [false, true]) {
    const c = new Client(port);
    await c.expect(/^\* OK/);
    const injected = 'i1 LOGIN alice secret\r\ni2 CREATE Injected\r\ni3 NOOP\r\n';
    if (split) {
      c.send('s1 STARTTLS\r\n');
      c.send(injected); // a second segment, before the server has answered
    } else c.send(`s1 STARTTLS\r\n${injected}`);
    await c.expect(/s1 OK[^\r]*\r\n/);
    await c.upgrade();
    c.send('a1 NOOP\r\na2 SELECT INBOX\r\n');
    await c.expect(/a2 (OK|NO|BAD)[^\r]*\r\n/);
    assert.match(c.secure, /a2 BAD/, 'still not logged in: the injected LOGIN never ran');
    assert.doesNotMatch(c.plain.replace(/^[^\n]*\n/, ''), /i[123] /, 'nothing answered in plaintext after the STARTTLS reply');
    assert.doesNotMatch(c.plain.slice(c.plain.indexOf('s1 OK')), /\r\n./s, 'the STARTTLS reply is the last plaintext');
    assert.doesNotMatch(c.secure, /i[123] /, 'nor over TLS');
    c.close();
  }
  assert.ok(!(await store.listMailboxes('alice')).includes('Injected'));
});

test('--allow-plaintext: LOGIN works before TLS, STARTTLS is still offered; STARTTLS only before login', async () => {
  const c = new Client(lenientPort);
  const greeting = await c.expect(/^\* OK .*\r\n/);
  assert.match(greeting, /STARTTLS/);
  assert.match(greeting, /AUTH=PLAIN/);
  assert.doesNotMatch(greeting, /LOGINDISABLED/);
  c.send('a1 LOGIN alice secret\r\n');
  await c.expect(/a1 OK/);
  c.send('a2 STARTTLS\r\n');
  await c.expect(/a2 BAD/);
  c.close();
});

test('no certificate: STARTTLS is neither offered nor done', async () => {
  const bare = new ImapServer({ maildir: store.root, watch: false, users: parseUsers('alice:secret\n'), pipe: null });
  const p = (await bare.listen('127.0.0.1', 0)).port;
  try {
    const c = new Client(p);
    const greeting = await c.expect(/^\* OK .*\r\n/);
    assert.doesNotMatch(greeting, /STARTTLS|LOGINDISABLED/);
    c.send('a1 STARTTLS\r\n');
    await c.expect(/a1 NO/);
    c.send('a2 LOGIN alice secret\r\n');
    await c.expect(/a2 OK/);
    c.close();
    await assert.rejects(bare.listenTls('127.0.0.1', 0), /certificate/);
  } finally {
    await bare.close();
  }
});

test('implicit TLS: TLS 1.2 or newer only; plaintext and old TLS are turned away and the server goes on', async () => {
  const t = await tlsConnect(tlsPort);
  assert.ok(['TLSv1.2', 'TLSv1.3'].includes(t.getProtocol() ?? ''), `negotiated ${t.getProtocol()}`);
  let text = '';
  t.on('data', (d: Buffer) => (text += d.toString('latin1')));
  await waitFor(() => text.includes('\r\n'), 'greeting over TLS');
  assert.match(text, /AUTH=PLAIN/);
  assert.doesNotMatch(text, /STARTTLS|LOGINDISABLED/, 'TLS is up already');
  t.destroy();

  const old: tls.ConnectionOptions = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' };
  // Control: this client can speak TLS 1.1 to a server that allows it, so a refusal below is ours.
  const permissive = tls.createServer({ cert: cert.pem, key: await readFile(cert.key), minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' }, (s) => s.end());
  await new Promise<void>((r) => permissive.listen(0, '127.0.0.1', r));
  const control = await tlsConnect((permissive.address() as net.AddressInfo).port, old).then(
    (s) => {
      const protocol = s.getProtocol();
      s.destroy();
      return protocol;
    },
    (err: Error) => err.message,
  );
  permissive.close();
  if (control === 'TLSv1.1') {
    await assert.rejects(tlsConnect(tlsPort, old), /protocol version|PROTOCOL_VERSION/i);
  } else {
    process.stderr.write(`# this Node/OpenSSL cannot speak TLS 1.1 at all (${control}); only the negotiated version was checked\n`);
  }

  const plain = net.connect(tlsPort, '127.0.0.1');
  let answer = '';
  plain.on('data', (d: Buffer) => (answer += d.toString('latin1')));
  plain.on('error', () => {});
  plain.write('a1 LOGIN alice secret\r\n');
  await new Promise((r) => plain.once('close', r));
  assert.doesNotMatch(answer, /OK/);

  const again = await tlsConnect(tlsPort);
  again.destroy();
});

test('imapflow logs in over implicit TLS and over STARTTLS', async () => {
  for (const mode of ['implicit', 'starttls'] as const) {
    const flow = new ImapFlow({
      host: '127.0.0.1',
      port: mode === 'implicit' ? tlsPort : port,
      secure: mode === 'implicit',
      doSTARTTLS: mode === 'starttls',
      tls: { ca: cert.pem },
      logger: false,
      auth: { user: 'alice', pass: 'secret' },
    });
    await flow.connect();
    assert.equal(flow.secureConnection, true, `${mode}: TLS is up`);
    const box = await flow.mailboxOpen('INBOX');
    assert.ok(box.exists >= 1);
    const msg = await flow.fetchOne('1', { envelope: true, source: true });
    assert.ok(msg);
    assert.equal(msg.envelope?.subject, 'over TLS');
    const appended = await flow.append('INBOX', message(`appended via ${mode}`));
    assert.ok(appended && (appended.uid ?? 0) > 0);
    await flow.logout();
  }
  const subjects = await Promise.all((await store.sync('alice', 'INBOX')).messages.map(async (m) => /Subject: (.*)\r/.exec((await store.readMessage('alice', 'INBOX', m.uid)).toString())?.[1]));
  assert.ok(subjects.includes('appended via implicit') && subjects.includes('appended via starttls'), subjects.join(', '));
});

test('STARTTLS: an old TLS version or garbage instead of a handshake ends that connection only', async () => {
  const old = new Client(port);
  await old.expect(/^\* OK/);
  old.send('s1 STARTTLS\r\n');
  await old.expect(/s1 OK[^\r]*\r\n/);
  await assert.rejects(
    (async () => {
      const s = (old as unknown as { s: net.Socket }).s;
      s.removeAllListeners('data');
      await new Promise<void>((resolve, reject) => {
        const t = tls.connect({ socket: s, ca: cert.pem, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }, resolve);
        t.once('error', reject);
      });
    })(),
    /protocol version|PROTOCOL_VERSION|no protocols available|unsupported protocol/i,
  );
  const garbage = new Client(port);
  await garbage.expect(/^\* OK/);
  garbage.send('s1 STARTTLS\r\n');
  await garbage.expect(/s1 OK[^\r]*\r\n/);
  garbage.send('a1 LOGIN alice secret\r\n'.repeat(20));
  await waitFor(() => garbage.closed, 'the server to drop a connection that does not handshake');
  assert.doesNotMatch(garbage.plain.slice(garbage.plain.indexOf('s1 OK')), /a1/);
  const fine = new Client(port);
  await fine.expect(/^\* OK/);
  fine.close();
});
