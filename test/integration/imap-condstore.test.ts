import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ImapServer } from '../../src/imap/server.js';
import { parseUsers } from '../../src/imap/users.js';
import { MaildirStore } from '../../src/maildir/maildir-store.js';
import { UidSet } from '../../src/update/uid-set.js';
import { message } from '../helpers/imap-fixture.js';
import { rawImap } from '../helpers/imap-raw.js';

let dir = '';
let store: MaildirStore;
let server: ImapServer;
let port = 0;

/** The store's own idea of a message's modseq, and the mailbox's. */
const modseqOf = async (uid: number): Promise<number> => (await store.sync('alice', 'INBOX')).messages.find((m) => m.uid === uid)!.modseq;
const highest = async (): Promise<number> => (await store.sync('alice', 'INBOX')).highestModseq;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'up-imap-condstore-'));
  store = new MaildirStore(path.join(dir, 'mail'));
  await store.ensureUser('alice');
  for (let i = 1; i <= 5; i++) await store.append('alice', 'INBOX', Buffer.from(message(`m${i}`)));
  server = new ImapServer({ maildir: store.root, watch: false, users: parseUsers('alice:secret\n'), pipe: null });
  port = (await server.listen('127.0.0.1', 0)).port;
});
after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

test('ENABLE, HIGHESTMODSEQ in STATUS and SELECT, FETCH MODSEQ (answers as Dovecot gives them)', async () => {
  const c = await rawImap(port);
  assert.match(await c.run('CAPABILITY'), /\* CAPABILITY .*\bENABLE\b.*\bCONDSTORE\b.*\bQRESYNC\b/);
  assert.match(await c.run('SELECT INBOX'), /^(?![\s\S]*HIGHESTMODSEQ)/, 'no HIGHESTMODSEQ before CONDSTORE is enabled');
  assert.match(await c.run('UNSELECT'), /OK/);
  const enabled = await c.run('ENABLE CONDSTORE UTF8=ACCEPT IMAP4rev2 FOO');
  assert.match(enabled, /\* ENABLED CONDSTORE\r\n/, 'only what it knows');
  assert.match(await c.run('STATUS INBOX (MESSAGES HIGHESTMODSEQ)'), new RegExp(`\\* STATUS "?INBOX"? \\(MESSAGES 5 HIGHESTMODSEQ ${await highest()}\\)`));
  assert.match(await c.run('SELECT INBOX'), new RegExp(`\\* OK \\[HIGHESTMODSEQ ${await highest()}\\]`));
  const fetched = await c.run('FETCH 1:2 (MODSEQ)');
  assert.match(fetched, new RegExp(`\\* 1 FETCH \\(MODSEQ \\(${await modseqOf(1)}\\)\\)`));
  assert.match(fetched, new RegExp(`\\* 2 FETCH \\(MODSEQ \\(${await modseqOf(2)}\\)\\)`));
  assert.match(await c.run('FETCH 1 (FLAGS)'), /\* 1 FETCH \(FLAGS \(\)\)\r\n/, 'no MODSEQ unless asked for (as Dovecot)');
  c.close();
});

test('SELECT (CONDSTORE) enables it; STORE answers with UID and MODSEQ, .SILENT too; UNCHANGEDSINCE refuses what changed since', async () => {
  const c = await rawImap(port);
  assert.match(await c.run('SELECT INBOX (CONDSTORE)'), /\* OK \[HIGHESTMODSEQ \d+\]/);
  const stored = await c.run('STORE 1 +FLAGS (\\Seen)');
  assert.match(stored, new RegExp(`\\* 1 FETCH \\(UID 1 MODSEQ \\(${await modseqOf(1)}\\) FLAGS \\(\\\\Seen\\)\\)`));
  const silent = await c.run('STORE 2 +FLAGS.SILENT (\\Flagged)');
  assert.match(silent, new RegExp(`\\* 2 FETCH \\(UID 2 MODSEQ \\(${await modseqOf(2)}\\)\\)\\r\\n`));
  // Message 2 changed after message 1: UNCHANGEDSINCE between them stores 1 and 3, refuses 2.
  const between = await modseqOf(1);
  const cond = await c.run(`STORE 1:3 (UNCHANGEDSINCE ${between}) +FLAGS (\\Answered)`);
  assert.match(cond, /\* 1 FETCH \(UID 1 MODSEQ \(\d+\) FLAGS \(\\Answered \\Seen\)\)/);
  assert.match(cond, /\* 3 FETCH \(UID 3 MODSEQ \(\d+\) FLAGS \(\\Answered\)\)/);
  assert.doesNotMatch(cond, /\* 2 FETCH/);
  assert.match(cond, /OK \[MODIFIED 2\] Conditional STORE failed/);
  assert.deepEqual((await store.sync('alice', 'INBOX')).messages.find((m) => m.uid === 2)!.flags, ['\\Flagged'], 'message 2 was left alone');
  assert.match(await c.run('UID STORE 1:3 (UNCHANGEDSINCE 1) +FLAGS (\\Draft)'), /OK \[MODIFIED 1:3\]/, 'UID STORE names UIDs');
  const since = await c.run(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${between})`);
  assert.deepEqual([...since.matchAll(/\* (\d) FETCH \(FLAGS \([^)]*\) MODSEQ \((\d+)\)\)/g)].map((m) => Number(m[1])), [1, 2, 3], 'only what changed since, MODSEQ last');
  const search = await c.run(`SEARCH MODSEQ ${between + 1}`);
  assert.match(search, new RegExp(`\\* SEARCH 1 2 3 \\(MODSEQ ${await highest()}\\)`));
  assert.match(await c.run('UID SEARCH MODSEQ "/flags/\\\\draft" all 1'), /\* SEARCH 1 2 3 4 5 \(MODSEQ \d+\)/);
  assert.match(await c.run('SEARCH MODSEQ 999999'), /\* SEARCH\r\n/);
  c.close();
});

test("another session's change reaches a CONDSTORE session with its MODSEQ", async () => {
  const a = await rawImap(port);
  const b = await rawImap(port);
  await a.run('SELECT INBOX (CONDSTORE)');
  await b.run('SELECT INBOX');
  await b.run('STORE 4 +FLAGS (\\Flagged)');
  const noop = await a.run('NOOP');
  assert.match(noop, new RegExp(`\\* 4 FETCH \\(UID 4 FLAGS \\(\\\\Flagged\\) MODSEQ \\(${await modseqOf(4)}\\)\\)`));
  a.close();
  b.close();
});

test('QRESYNC: VANISHED instead of EXPUNGE, HIGHESTMODSEQ after EXPUNGE, SELECT (QRESYNC …) and UID FETCH … VANISHED', async () => {
  const before = await highest();
  const uidValidity = (await store.sync('alice', 'INBOX')).uidValidity;
  const a = await rawImap(port);
  const b = await rawImap(port);
  assert.match(await a.run(`SELECT INBOX (QRESYNC (${uidValidity} ${before}))`), /BAD QRESYNC not enabled/);
  assert.match(await a.run('ENABLE QRESYNC'), /\* ENABLED QRESYNC/);
  await a.run('SELECT INBOX');
  await b.run('ENABLE QRESYNC');
  await b.run('SELECT INBOX');
  await a.run('STORE 5 +FLAGS (\\Deleted)');
  const expunged = await a.run('EXPUNGE');
  assert.match(expunged, /\* VANISHED 5\r\n/);
  assert.match(expunged, new RegExp(`OK \\[HIGHESTMODSEQ ${await highest()}\\] EXPUNGE completed`));
  assert.match(await b.run('NOOP'), /\* VANISHED 5\r\n/, 'the other session too');
  await b.run('STORE 1 -FLAGS (\\Seen)');
  const fetched = await a.run(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${before} VANISHED)`);
  assert.match(fetched, /\* VANISHED \(EARLIER\) 5\r\n/);
  assert.match(fetched, new RegExp(`\\* 1 FETCH \\(UID 1 FLAGS \\(\\\\Answered\\) MODSEQ \\(${await modseqOf(1)}\\)\\)\r\n[^*]*OK`), 'only UID 1 changed since');
  assert.match(await a.run(`FETCH 1 (FLAGS) (CHANGEDSINCE ${before} VANISHED)`), /BAD/, 'VANISHED only with UID FETCH');
  a.close();
  b.close();

  // A client back after changes: what vanished and what changed since its modseq, nothing else.
  const c = await rawImap(port);
  await c.run('ENABLE QRESYNC');
  const back = await c.run(`SELECT INBOX (QRESYNC (${uidValidity} ${before}))`);
  assert.match(back, /\* VANISHED \(EARLIER\) 5\r\n/);
  const changed = [...back.matchAll(/\* \d FETCH \(UID (\d) FLAGS \([^)]*\) MODSEQ \(\d+\)\)/g)].map((m) => Number(m[1]));
  const expected = (await store.sync('alice', 'INBOX')).messages.filter((m) => m.modseq > before).map((m) => m.uid);
  assert.deepEqual(changed, expected);
  assert.match(back, /OK \[READ-WRITE\]/);
  const known = await c.run(`SELECT INBOX (QRESYNC (${uidValidity} ${before} 1:2))`);
  assert.doesNotMatch(known, /VANISHED/, 'UID 5 is not among the known UIDs');
  assert.deepEqual([...known.matchAll(/FETCH \(UID (\d)/g)].map((m) => Number(m[1])), expected.filter((u) => u <= 2));
  const stale = await c.run(`SELECT INBOX (QRESYNC (${uidValidity + 1} 1))`);
  assert.doesNotMatch(stale, /VANISHED|FETCH/, 'another UIDVALIDITY: the client starts over');
  c.close();
});

test('bad CONDSTORE and QRESYNC syntax is BAD, and the session goes on', async () => {
  const c = await rawImap(port);
  await c.run('ENABLE QRESYNC');
  for (const cmd of [
    'SELECT INBOX (FOO)',
    'SELECT INBOX (QRESYNC)',
    'SELECT INBOX (QRESYNC (0 1))',
    'SELECT INBOX (QRESYNC (1 x))',
    'SELECT INBOX (QRESYNC (1 1 1:*))',
    'SELECT INBOX (QRESYNC (1 1 1 (1)))',
    'SELECT INBOX (QRESYNC (1 99999999999999999999))',
    'SELECT INBOX CONDSTORE',
    'ENABLE',
  ]) assert.match(await c.run(cmd), /BAD/, cmd);
  await c.run('SELECT INBOX');
  for (const cmd of ['FETCH 1 (FLAGS) (CHANGEDSINCE)', 'FETCH 1 (FLAGS) (CHANGEDSINCE -1)', 'FETCH 1 (FLAGS) (FOO 1)', 'UID FETCH 1 (FLAGS) (VANISHED)', 'FETCH 1 (FLAGS) ()', 'STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Seen)', 'STORE 1 (FOO 1) +FLAGS (\\Seen)', 'SEARCH MODSEQ', 'SEARCH MODSEQ "/flags/x" nobody 1']) {
    assert.match(await c.run(cmd), /BAD/, cmd);
  }
  assert.match(await c.run('NOOP'), /OK/);
  c.close();
});

test('the VANISHED a client is owed when the expunge history no longer reaches back: every UID it may hold that is gone, never one that exists', async () => {
  const { vanishedUids } = await import('../../src/imap/condstore.js');
  assert.equal(vanishedUids(null, null, 11, [1, 2, 5, 9]), '3:4,6:8,10');
  assert.equal(vanishedUids(null, UidSet.parse('2:6,100'), 11, [1, 2, 5, 9]), '3:4,6');
  assert.equal(vanishedUids(null, UidSet.parse(`1:${0xffff_ffff}`), 4, [1, 2, 3]), null);
  assert.equal(vanishedUids([3, 4, 7], UidSet.parse('1:5'), 11, [1, 2, 5]), '3:4', 'from the history: within the known UIDs');
});
