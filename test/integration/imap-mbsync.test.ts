/**
 * A real client installed with apt: isync's mbsync syncs a Maildir with serve-imap over
 * implicit TLS and over STARTTLS, both ways (new messages, flags, deletions, folders).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { findBinary } from '../../src/bench/services.js';
import { CliProcess } from '../../src/cli/child.js';
import { MaildirStore } from '../../src/maildir/maildir-store.js';
import { aptToolSkip } from '../helpers/apt-tool.js';
import { message } from '../helpers/imap-fixture.js';
import { makeCert, type TestCert } from '../helpers/tls-certs.js';

const skip = aptToolSkip('mbsync', 'isync');

let dir = '';
let cert: TestCert;
let store: MaildirStore;
let server: CliProcess | null = null;
let plainPort = 0;
let tlsPort = 0;

function config(mode: 'IMAPS' | 'STARTTLS'): string {
  return `IMAPAccount serve-imap
Host 127.0.0.1
Port ${mode === 'IMAPS' ? tlsPort : plainPort}
User alice
Pass secret
SSLType ${mode}
SSLVersions TLSv1.2 TLSv1.3
CertificateFile ${cert.cert}
SystemCertificates no

IMAPStore remote
Account serve-imap

MaildirStore local
Path ${dir}/local/
Inbox ${dir}/local/INBOX
SubFolders Verbatim

Channel all
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
`;
}

async function mbsync(mode: 'IMAPS' | 'STARTTLS'): Promise<string> {
  const rc = path.join(dir, `mbsyncrc-${mode}`);
  await writeFile(rc, config(mode));
  return new Promise((resolve, reject) => {
    const child = spawn(findBinary('mbsync')!, ['-c', rc, '-a'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`mbsync (${mode}) exited with ${code}: ${out}`));
    });
  });
}

/** Local Maildir messages: file name → content. */
async function local(folder: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const sub of ['new', 'cur']) {
    const d = path.join(dir, 'local', folder, sub);
    for (const f of await readdir(d).catch(() => [])) out.set(path.join(sub, f), await readFile(path.join(d, f), 'latin1'));
  }
  return out;
}

async function serverSubjects(mailbox: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const m of (await store.sync('alice', mailbox)).messages) {
    const subject = /^Subject: (.*)\r?$/m.exec((await store.readMessage('alice', mailbox, m.uid)).toString('latin1'))![1]!;
    out.set(subject, m.flags);
  }
  return out;
}

const subjectOf = (text: string): string => /^Subject: (.*?)\r?$/m.exec(text)![1]!;
/** mbsync keeps local files with LF line ends and adds its own X-TUID header (to find APPENDed messages again). */
const comparable = (text: string): string => text.replace(/\r\n/g, '\n').replace(/^X-TUID: .*\n/m, '');

before(async () => {
  if (skip) return;
  dir = await mkdtemp(path.join(os.tmpdir(), 'up-mbsync-'));
  cert = makeCert(dir);
  store = new MaildirStore(path.join(dir, 'mail'));
  await store.ensureUser('alice');
  await store.append('alice', 'INBOX', Buffer.from(message('first')), ['\\Seen']);
  await store.append('alice', 'INBOX', Buffer.from(message('second')));
  await store.append('alice', 'INBOX', Buffer.from(message('third')));
  await store.createMailbox('alice', 'Archive/2025');
  await store.append('alice', 'Archive/2025', Buffer.from(message('archived')), ['\\Flagged']);
  await writeFile(path.join(dir, 'users'), 'alice:secret\n');
  await mkdir(path.join(dir, 'local'));
  server = new CliProcess([
    'serve-imap', '--maildir', path.join(dir, 'mail'), '--listen', '127.0.0.1:0', '--listen-tls', '127.0.0.1:0',
    '--tls-cert', cert.cert, '--tls-key', cert.key, '--no-pipe', '--users', path.join(dir, 'users'),
  ]);
  await server.waitStderr('ready');
  plainPort = Number(/IMAP on 127\.0\.0\.1:(\d+)/.exec(server.stderr)![1]);
  tlsPort = Number(/IMAPS on 127\.0\.0\.1:(\d+)/.exec(server.stderr)![1]);
});
after(async () => {
  if (skip) return;
  await server?.kill('SIGTERM');
  await rm(dir, { recursive: true, force: true });
});

test('mbsync over IMAPS copies every folder, message and flag down', { skip }, async () => {
  await mbsync('IMAPS');
  const inbox = await local('INBOX');
  const bySubject = new Map([...inbox].map(([file, text]) => [subjectOf(text), file]));
  assert.deepEqual([...bySubject.keys()].sort(), ['first', 'second', 'third']);
  assert.match(bySubject.get('first')!, /:2,S$/, '\\Seen came down');
  assert.match(bySubject.get('second')!, /:2,$/);
  for (const [, text] of inbox) assert.equal(comparable(text), comparable(message(subjectOf(text))), 'the whole message');
  const archived = await local('Archive/2025');
  assert.equal(archived.size, 1);
  assert.match([...archived.keys()][0]!, /:2,F$/);
});

test('mbsync over STARTTLS sends local changes up: flags, a deletion, a new message', { skip }, async () => {
  const inbox = await local('INBOX');
  const fileOf = (s: string): string => [...inbox].find(([, t]) => subjectOf(t) === s)![0];
  const second = fileOf('second');
  await rename(path.join(dir, 'local', 'INBOX', second), path.join(dir, 'local', 'INBOX', 'cur', `${path.basename(second).replace(/:2,.*$/, '')}:2,FS`));
  await rm(path.join(dir, 'local', 'INBOX', fileOf('third')));
  await writeFile(path.join(dir, 'local', 'INBOX', 'new', '1700000000.local1.host'), message('written locally'));
  await mbsync('STARTTLS');
  const after = await serverSubjects('INBOX');
  assert.deepEqual([...after.keys()].sort(), ['first', 'second', 'written locally']);
  assert.deepEqual(after.get('second')!.sort(), ['\\Flagged', '\\Seen']);
  const appended = (await store.readMessage('alice', 'INBOX', (await store.sync('alice', 'INBOX')).messages.at(-1)!.uid)).toString();
  assert.equal(comparable(appended), comparable(message('written locally')), 'APPENDed whole');
  assert.doesNotMatch(appended.replace(/\r\n/g, ''), /\n/, 'with CRLF line ends, as IMAP sends them');
});

test('mbsync picks up what changed on the server since', { skip }, async () => {
  await store.append('alice', 'INBOX', Buffer.from(message('late arrival')));
  const first = (await store.sync('alice', 'INBOX')).messages[0]!;
  await store.addFlags('alice', 'INBOX', first.uid, ['\\Answered']);
  await mbsync('IMAPS');
  const inbox = await local('INBOX');
  const subjects = [...inbox.values()].map(subjectOf).sort();
  assert.deepEqual(subjects, ['first', 'late arrival', 'second', 'written locally']);
  const firstFile = [...inbox].find(([, t]) => subjectOf(t) === 'first')![0];
  assert.match(firstFile, /:2,RS$/, '\\Answered came down');
});
