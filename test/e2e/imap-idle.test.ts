import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ImapFixture, message, type Client } from '../helpers/imap-fixture.js';
import { sleep, waitFor } from '../helpers/wait.js';

const fx = new ImapFixture();
let port = 0;
let a: Client;
let b: Client;
let other: Client;

/** Lets any duplicate or stray event arrive before counting. */
const settle = (): Promise<void> => sleep(300);
const reset = (...cs: Client[]): void => cs.forEach((c) => (c.events.length = 0));

before(async () => {
  await fx.setup();
  port = await fx.server();
  const create = await fx.mail('create', '--user', 'alice', '--mailbox', 'Archive');
  assert.equal(create.code, 0, create.stderr);
  a = await fx.client(port);
  b = await fx.client(port);
  other = await fx.client(port, 'Archive');
  await sleep(200); // all three IDLE
});
after(() => fx.teardown());

test('mail add: every IDLE client on INBOX gets exactly one EXISTS; Archive gets nothing', async () => {
  const r = await fx.mailWithInput(message('first'), 'add', '--user', 'alice', '-');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '1');
  await waitFor(() => a.events.length > 0 && b.events.length > 0, 'exists on both clients');
  await settle();
  for (const c of [a, b]) assert.deepEqual(c.events, [{ type: 'exists', count: 1 }]);
  assert.deepEqual(other.events, []);
});

test('mail flags: exactly one FETCH FLAGS with the new set', async () => {
  reset(a, b, other);
  const r = await fx.mail('flags', '--user', 'alice', '--uid', '1', '--add', '\\Flagged,$Important');
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => a.events.length > 0 && b.events.length > 0, 'flags on both clients');
  await settle();
  for (const c of [a, b]) assert.deepEqual(c.events, [{ type: 'flags', seq: 1, uid: 1, flags: ['$Important', '\\Flagged'] }]);
  assert.deepEqual(other.events, []);
});

test('mail expunge: exactly one EXPUNGE with the right sequence number', async () => {
  for (const s of ['second', 'third']) assert.equal((await fx.mailWithInput(message(s), 'add', '--user', 'alice', '-')).code, 0);
  await waitFor(() => a.events.filter((e) => e.type === 'exists').length >= 1 && a.flow.mailbox && (a.flow.mailbox as { exists: number }).exists === 3, '3 messages');
  await waitFor(() => (b.flow.mailbox as { exists: number }).exists === 3, '3 messages on b');
  reset(a, b, other);
  const r = await fx.mail('expunge', '--user', 'alice', '--uid', '2');
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => a.events.length > 0 && b.events.length > 0, 'expunge on both');
  await settle();
  for (const c of [a, b]) assert.deepEqual(c.events, [{ type: 'expunge', seq: 2 }]);
  assert.deepEqual(other.events, []);
});

test("a client's own STORE reaches the other client once", async () => {
  reset(a, b, other);
  await a.flow.messageFlagsAdd({ uid: '3' }, ['\\Seen'], { uid: true });
  await waitFor(() => b.events.length > 0, 'flags on b');
  await settle();
  assert.deepEqual(b.events, [{ type: 'flags', seq: 2, uid: 3, flags: ['\\Seen'] }]);
  assert.deepEqual(other.events, []);
});

test("a client's APPEND and EXPUNGE reach the other client once", async () => {
  reset(a, b, other);
  await a.flow.append('INBOX', message('appended'), ['\\Draft']);
  await waitFor(() => b.events.length > 0, 'exists on b');
  await settle();
  assert.deepEqual(b.events, [{ type: 'exists', count: 3 }]);
  reset(a, b);
  await a.flow.messageDelete({ uid: '1' }, { uid: true });
  await waitFor(() => b.events.some((e) => e.type === 'expunge'), 'expunge on b');
  await settle();
  assert.deepEqual(b.events.filter((e) => e.type === 'expunge'), [{ type: 'expunge', seq: 1 }]);
});

test('a second server on the same pipe and Maildir: changes cross between them', async () => {
  const port2 = await fx.server();
  const c = await fx.client(port2);
  await sleep(200);
  reset(a, b, c);
  await c.flow.messageFlagsAdd({ uid: '3' }, ['\\Answered'], { uid: true });
  await waitFor(() => a.events.length > 0 && b.events.length > 0, 'flags from the other server');
  await settle();
  for (const x of [a, b]) assert.deepEqual(x.events, [{ type: 'flags', seq: 1, uid: 3, flags: ['\\Answered', '\\Seen'] }]);
  reset(a, b, c);
  const r = await fx.mailWithInput(message('to both'), 'add', '--user', 'alice', '-');
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => [a, b, c].every((x) => x.events.length > 0), 'exists on every server');
  await settle();
  for (const x of [a, b, c]) assert.deepEqual(x.events, [{ type: 'exists', count: 3 }]);
});
